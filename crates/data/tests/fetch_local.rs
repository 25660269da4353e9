//! `fetch` against a local HTTP server on 127.0.0.1 (no other network address is used).
//!
//! The server serves small valid IDX files generated here, a corrupted copy, a truncated
//! copy, a copy whose connection drops before the promised length, and 404s. The checksums
//! are injected through a `FetchSpec`.

use flate2::write::GzEncoder;
use flate2::Compression;
use nabla_data::{fetch_spec, sha256_file, FetchEvent, FetchSpec, RemoteFile, IDX_FILES};
use nabla_registry::{RawParams, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Loads a data set by name through the registry's generic build (splits and effective params).
fn load(
    name: &str,
    raw: &nabla_registry::RawParams,
) -> Result<(nabla_data::DataSplits, nabla_registry::Params), nabla_data::DataError> {
    nabla_registry::build::<nabla_data::DataSplits>((name, raw), ()).map(|b| (b.value, b.params))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The four files of a tiny MNIST-like set (gzipped), by name.
fn files() -> BTreeMap<String, Vec<u8>> {
    let images = |n: u32| {
        let mut v = vec![0, 0, 8, 3];
        for d in [n, 3, 3] {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend((0..n * 9).map(|i| (i * 7 % 256) as u8));
        v
    };
    let labels = |n: u32| {
        let mut v = vec![0, 0, 8, 1];
        v.extend_from_slice(&n.to_be_bytes());
        v.extend((0..n).map(|i| (i % 10) as u8));
        v
    };
    let raw = [images(30), labels(30), images(12), labels(12)];
    IDX_FILES.iter().zip(raw).map(|(n, b)| (format!("{n}.gz"), gzip(&b))).collect()
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A server answering at most `max_requests` requests, for at most 30 seconds, one
/// connection at a time; it records every request path. Routes:
/// `/good/F`, `/corrupt/F` (one byte flipped), `/trunc/F` (first half, honest length),
/// `/drop/F` (full length promised, connection closed after half), anything else 404.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    fn start(files: BTreeMap<String, Vec<u8>>, max_requests: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut served = 0;
            while served < max_requests && Instant::now() < deadline && !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        served += 1;
                        if let Some(path) = serve(stream, &files) {
                            log.lock().unwrap().push(path);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => break,
                }
            }
        });
        Server { base, requests, stop, handle: Some(handle) }
    }

    fn mirror(&self, route: &str) -> String {
        format!("{}/{route}/", self.base)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve(mut stream: TcpStream, files: &BTreeMap<String, Vec<u8>>) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 || request.len() > 16 * 1024 {
            return None;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1)?.to_string();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (route, name) = (parts.next()?, parts.next().unwrap_or(""));
    let head = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    let _ = match (route, files.get(name)) {
        ("good", Some(b)) => stream.write_all(head(b.len()).as_bytes()).and_then(|_| stream.write_all(b)),
        ("corrupt", Some(b)) => {
            let mut c = b.clone();
            let mid = c.len() / 2;
            c[mid] ^= 0xff;
            stream.write_all(head(c.len()).as_bytes()).and_then(|_| stream.write_all(&c))
        }
        ("trunc", Some(b)) => {
            let half = &b[..b.len() / 2];
            stream.write_all(head(half.len()).as_bytes()).and_then(|_| stream.write_all(half))
        }
        ("drop", Some(b)) => {
            stream.write_all(head(b.len()).as_bytes()).and_then(|_| stream.write_all(&b[..b.len() / 2]))
        }
        _ => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"),
    };
    let _ = stream.flush();
    Some(path)
}

fn spec(files: &BTreeMap<String, Vec<u8>>, mirrors: Vec<String>) -> FetchSpec {
    FetchSpec {
        dataset: "tiny".into(),
        mirrors,
        files: files
            .iter()
            .map(|(name, b)| RemoteFile { name: name.clone(), sha256: sha(b), size: Some(b.len() as u64) })
            .collect(),
        timeout: Duration::from_secs(10),
    }
}

/// Every entry of `dir` (including hidden temporary files).
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn bad_mirrors_are_skipped_and_good_files_land_verified() {
    let files = files();
    let server = Server::start(files.clone(), 40);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mnist");
    let mirrors = vec![
        server.mirror("missing"),
        server.mirror("corrupt"),
        server.mirror("drop"),
        server.mirror("good"),
    ];
    let mut rejected = 0;
    let report = fetch_spec(&spec(&files, mirrors), &target, &mut |e| {
        if let FetchEvent::Rejected { .. } = e {
            rejected += 1;
        }
    })
    .unwrap();
    assert_eq!(rejected, 4 * 3, "404, corrupt and dropped connection for each file");
    assert_eq!(report.files.len(), 4);
    for f in &report.files {
        assert!(f.downloaded_from.as_deref().unwrap().contains("/good/"));
        let name = f.path.file_name().unwrap().to_str().unwrap();
        assert_eq!(sha256_file(&f.path).unwrap(), sha(&files[name]));
    }
    assert_eq!(entries(&target), files.keys().cloned().collect::<Vec<_>>(), "no temporary files left");
    let order: Vec<String> =
        server.requests().iter().filter(|p| p.ends_with("train-images-idx3-ubyte.gz")).cloned().collect();
    assert_eq!(order.len(), 4);
    assert!(
        order[0].starts_with("/missing/")
            && order[1].starts_with("/corrupt/")
            && order[3].starts_with("/good/")
    );

    // The downloaded files load as a data set.
    let raw: RawParams =
        [("data_dir".to_string(), Value::Str(dir.path().display().to_string()))].into_iter().collect();
    let (splits, _) = load("mnist", &raw).unwrap();
    assert_eq!((splits.train.len(), splits.test.len()), (30, 12));

    // A second fetch finds everything in place and requests nothing.
    let before = server.requests().len();
    let again = fetch_spec(&spec(&files, vec![server.mirror("good")]), &target, &mut |_| {}).unwrap();
    assert!(again.files.iter().all(|f| f.downloaded_from.is_none()));
    assert_eq!(server.requests().len(), before);
}

#[test]
fn corrupted_or_truncated_downloads_never_appear_under_the_final_name() {
    let files = files();
    let server = Server::start(files.clone(), 20);
    let dir = tempfile::tempdir().unwrap();
    let mirrors = vec![server.mirror("trunc"), server.mirror("corrupt")];
    let err = fetch_spec(&spec(&files, mirrors), dir.path(), &mut |_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/trunc/") && msg.contains("/corrupt/"), "both mirrors tried: {msg}");
    assert!(msg.contains("SHA-256") || msg.contains("bytes"), "{msg}");
    assert!(entries(dir.path()).is_empty(), "left behind: {:?}", entries(dir.path()));

    // A wrong file already in place is replaced, atomically, by the verified one.
    let name = files.keys().next().unwrap().clone();
    std::fs::write(dir.path().join(&name), b"stale").unwrap();
    let one = FetchSpec {
        files: spec(&files, vec![]).files[..1].to_vec(),
        ..spec(&files, vec![server.mirror("good")])
    };
    let report = fetch_spec(&one, dir.path(), &mut |_| {}).unwrap();
    assert!(report.files[0].downloaded_from.is_some());
    assert_eq!(std::fs::read(dir.path().join(&name)).unwrap(), files[&name]);
    assert_eq!(entries(dir.path()), vec![name]);
}

#[test]
fn no_mirror_is_an_error_not_a_panic() {
    let files = files();
    let dir = tempfile::tempdir().unwrap();
    let err = fetch_spec(&spec(&files, vec![]), dir.path(), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("no mirrors"), "{err}");
    // A closed port on loopback fails fast and cleanly.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed = format!("http://127.0.0.1:{port}/x/");
    assert!(fetch_spec(&spec(&files, vec![closed]), dir.path(), &mut |_| {}).is_err());
    assert!(entries(dir.path()).is_empty());
}
