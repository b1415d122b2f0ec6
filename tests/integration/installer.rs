//! The Action's installer (`scripts/action-install.sh`) against a fake release served on
//! 127.0.0.1: a good archive is verified, installed, put on PATH and then found in the cache; a
//! bad checksum, a missing asset and an unreleased explicit version each fail with a message
//! naming what failed; the action's own unreleased ref is built from source, saying so.
//! Needs bash and curl, as the Action's runners have them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use sha2::Digest;

use crate::support::{pack_tgz, repo};

const TARGET: &str = "x86_64-unknown-linux-musl";

/// Serves `files` (URL path → body) over HTTP/1.1 on 127.0.0.1; anything else is a 404.
/// Returns the base URL; the server thread lives as long as the test process.
fn serve(files: HashMap<String, Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Headers end at an empty line.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push(path.clone());
            let (status, body) = match files.get(&path) {
                Some(body) => ("200 OK", body.clone()),
                None => ("404 Not Found", b"Not Found".to_vec()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    (base, requests)
}

/// A release of `version`: the archive of a fake binary that prints its version, and the
/// archive's checksum file (as `sha256sum` writes it).
fn release(version: &str) -> (Vec<u8>, String) {
    let name = format!("mtk-lint-{version}-{TARGET}");
    let script = format!("#!/bin/sh\necho \"mtk-lint {version} (fake release)\"\n");
    let archive = pack_tgz(&[
        (&format!("{name}/mtk-lint"), &script),
        (&format!("{name}/LICENSE"), "Apache-2.0"),
    ]);
    let hex = sha2::Sha256::digest(&archive).iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    let sum = format!("{hex}  {name}.tar.gz\n");
    (archive, sum)
}

fn install(base: &str, version: &str, home: &Path, source: &Path) -> Output {
    Command::new("bash")
        .arg(repo().join("scripts/action-install.sh"))
        .env("MTK_LINT_VERSION", version)
        .env("MTK_LINT_SOURCE", source)
        .env("MTK_LINT_RELEASES", base)
        .env("MTK_LINT_CARGO", home.join("fake-cargo"))
        .env("CARGO_HOME", home.join("cargo"))
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TOOL_CACHE", home.join("toolcache"))
        .env("GITHUB_PATH", home.join("github_path"))
        .env("GITHUB_OUTPUT", home.join("github_output"))
        .env("HOME", home)
        .output()
        .expect("bash runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_installer_verifies_installs_and_caches_a_release() {
    let (archive, sum) = release("1.2.3");
    let asset = format!("/v1.2.3/mtk-lint-1.2.3-{TARGET}.tar.gz");
    let (base, requests) = serve(HashMap::from([
        (asset.clone(), archive),
        (format!("{asset}.sha256"), sum.into_bytes()),
    ]));
    let home = tempfile::tempdir().unwrap();
    let out = install(&base, "v1.2.3", home.path(), &repo());
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("verified (sha256 "), "{log}");
    assert!(log.contains("mtk-lint 1.2.3 (fake release)"), "the installed binary runs: {log}");
    let dir = home.path().join(format!("toolcache/mtk-lint/1.2.3/{TARGET}"));
    assert!(dir.join("mtk-lint").is_file());
    let path = std::fs::read_to_string(home.path().join("github_path")).unwrap();
    assert_eq!(path.trim(), dir.to_str().unwrap(), "the binary's directory is put on PATH");
    assert_eq!(requests.lock().unwrap().len(), 2, "checksum and archive");

    // The second run finds it in the cache and downloads nothing.
    let again = install(&base, "1.2.3", home.path(), &repo());
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(text(&again).contains("cached at"), "{}", text(&again));
    assert_eq!(requests.lock().unwrap().len(), 2, "nothing downloaded from the cache");

    // `--resolve` tells the cache step the version, target and directory.
    let out = Command::new("bash")
        .arg(repo().join("scripts/action-install.sh"))
        .arg("--resolve")
        .env("MTK_LINT_VERSION", "1.2.3")
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TOOL_CACHE", home.path().join("toolcache"))
        .env("GITHUB_OUTPUT", home.path().join("resolved"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(home.path().join("resolved")).unwrap(),
        format!("version=1.2.3\ntarget={TARGET}\ndir={}\n", dir.display())
    );
}

#[test]
fn the_installer_refuses_a_bad_checksum_a_missing_asset_and_an_unknown_version() {
    let (archive, _) = release("1.2.3");
    let wrong = format!("{}  mtk-lint-1.2.3-{TARGET}.tar.gz\n", "0".repeat(64));
    let (_, good_sum) = release("2.0.0");
    let (base, _) = serve(HashMap::from([
        (format!("/v1.2.3/mtk-lint-1.2.3-{TARGET}.tar.gz"), archive),
        (format!("/v1.2.3/mtk-lint-1.2.3-{TARGET}.tar.gz.sha256"), wrong.into_bytes()),
        // 2.0.0 has its checksum file but not the archive for this platform.
        (format!("/v2.0.0/mtk-lint-2.0.0-{TARGET}.tar.gz.sha256"), good_sum.into_bytes()),
    ]));
    let home = tempfile::tempdir().unwrap();

    let out = install(&base, "1.2.3", home.path(), &repo());
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("::error title=mtk-lint install::checksum mismatch for"), "{log}");
    assert!(log.contains(&"0".repeat(64)) && log.contains("nothing installed"), "{log}");
    assert!(!home.path().join("toolcache/mtk-lint/1.2.3").join(TARGET).join("mtk-lint").exists());
    assert!(!home.path().join("github_path").exists(), "nothing put on PATH");

    let out = install(&base, "2.0.0", home.path(), &repo());
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains(&format!("has no asset mtk-lint-2.0.0-{TARGET}.tar.gz for Linux/X64"))
            && log.contains("HTTP 404"),
        "{log}"
    );

    let out = install(&base, "3.0.0", home.path(), &repo());
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("mtk-lint 3.0.0 has no release checksum"), "{log}");

    let out = install(&base, "latest", home.path(), &repo());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("'latest' is not a release version"), "{}", text(&out));

    // Nothing listens on the port of a closed listener: the error says why.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = install(&format!("http://{closed}"), "1.2.3", home.path(), &repo());
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("cannot download") && log.contains("curl"), "{log}");
}

#[test]
fn an_unreleased_action_ref_is_built_from_source_with_a_notice() {
    let (base, _) = serve(HashMap::new());
    let home = tempfile::tempdir().unwrap();
    let source = home.path().join("action");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(
        source.join("Cargo.toml"),
        "[package]\nname = \"mtk-lint\"\nversion = \"9.9.9\"\n",
    )
    .unwrap();
    // A stand-in for cargo: records its arguments and installs a binary that prints a version.
    let fake = home.path().join("fake-cargo");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"$@\" > \"$HOME/cargo-args\"\nmkdir -p \"$CARGO_HOME/bin\"\n\
         printf '#!/bin/sh\\necho mtk-lint 9.9.9 built\\n' > \"$CARGO_HOME/bin/mtk-lint\"\n\
         chmod +x \"$CARGO_HOME/bin/mtk-lint\"\n",
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();

    let out = install(&base, "", home.path(), &source);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("::notice title=mtk-lint install::mtk-lint 9.9.9 (the action's ref) has no release: building it from source"), "{log}");
    assert!(log.contains("mtk-lint 9.9.9 built"), "{log}");
    let args = std::fs::read_to_string(home.path().join("cargo-args")).unwrap();
    assert_eq!(args.trim(), format!("install --locked --path {}", source.display()));
}
