//! `armature-conformance`: runs the conformance cases against a running server.
//!
//! ```text
//! armature-conformance --base-url http://127.0.0.1:8080 [--tls-base-url https://127.0.0.1:8443]
//!                      [--cases conformance/cases] [--filter substring] [--timeout-ms 10000]
//! armature-conformance --transport-command 'node transport.js' [...]
//! ```
//! `--transport-command` sends each case to that child process instead of a socket (a binding's
//! in-process transport; the line protocol is in `process_transport`).
//! Prints one line per case (`ok`, `FAIL` or `skip`), then a report for each failure, then
//! `N passed, N failed, N skipped`. Cases with `request.tls` are skipped without
//! `--tls-base-url`. Exits 0 when none failed, 1 on any failure, 2 on a usage or loading error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use armature_conformance::{load_dir, Outcome, Runner};

const USAGE: &str = "\
usage: armature-conformance (--base-url URL | --transport-command CMD) [--tls-base-url URL]
                            [--cases DIR] [--filter SUBSTRING] [--timeout-ms MS]

  --base-url URL       server to test, e.g. http://127.0.0.1:8080
  --tls-base-url URL   the same server's HTTPS listener, e.g. https://127.0.0.1:8443, for the
                       cases with request.tls (skipped without it); the test CA and client
                       certificate are read from the cases directory's ../credentials
  --transport-command CMD
                       instead of a server: a process (sh -c CMD) answering one JSON
                       request line with one JSON response line (see process_transport)
  --cases DIR          directory of case files (default: conformance/cases)
  --filter SUBSTRING   run only cases whose name contains SUBSTRING
  --timeout-ms MS      per-request limit, body included (default: 10000)";

enum Target {
    BaseUrl(String),
    Command(String),
}

struct Args {
    target: Target,
    tls_base_url: Option<String>,
    cases: PathBuf,
    filter: Option<String>,
    timeout: Duration,
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut base_url = None;
    let mut tls_base_url = None;
    let mut command = None;
    let mut cases = PathBuf::from("conformance/cases");
    let mut filter = None;
    let mut timeout = Duration::from_secs(10);
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Parsed::Help);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.to_string())),
            _ => (arg, None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base-url" => base_url = Some(value()?),
            "--tls-base-url" => tls_base_url = Some(value()?),
            "--transport-command" => command = Some(value()?),
            "--cases" => cases = PathBuf::from(value()?),
            "--filter" => filter = Some(value()?),
            "--timeout-ms" => {
                let text = value()?;
                let ms: u64 = text.parse().map_err(|_| format!("--timeout-ms: not a number: {text:?}"))?;
                timeout = Duration::from_millis(ms);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let target = match (base_url, command) {
        (Some(url), None) => Target::BaseUrl(url),
        (None, Some(command)) => Target::Command(command),
        _ => return Err("give one of --base-url and --transport-command".into()),
    };
    Ok(Parsed::Run(Args { target, tls_base_url, cases, filter, timeout }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runner = match &args.target {
        Target::BaseUrl(url) => Runner::new(url, args.timeout).map_err(|e| e.to_string()),
        Target::Command(command) => {
            Runner::with_process(command, args.timeout).map_err(|e| format!("cannot start {command:?}: {e}"))
        }
    };
    let credentials = args.cases.join("../credentials");
    let runner = runner.and_then(|runner| match &args.tls_base_url {
        Some(url) => runner.with_tls(url, &credentials).map_err(|e| e.to_string()),
        None => Ok(runner),
    });
    let runner = match runner {
        Ok(runner) => runner,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut cases = match load_dir(&args.cases) {
        Ok(cases) => cases,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(filter) = &args.filter {
        cases.retain(|case| case.name.contains(filter.as_str()));
        if cases.is_empty() {
            eprintln!("error: no case name contains {filter:?}");
            return ExitCode::from(2);
        }
    }

    let mut failures = Vec::new();
    let mut skipped = 0;
    for case in &cases {
        let result = runner.run(case).await;
        if result.passed() {
            println!("ok   {} ({})", case.name, case.file);
        } else if let Outcome::Skipped(reason) = &result.outcome {
            println!("skip {} ({}): {reason}", case.name, case.file);
            skipped += 1;
        } else {
            println!("FAIL {} ({})", case.name, case.file);
            failures.push(result);
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for failure in &failures {
            println!("{}", failure.report());
        }
    }
    let failed = failures.len();
    println!("{} passed, {} failed, {skipped} skipped", cases.len() - failed - skipped, failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_flags_in_both_forms() {
        let Ok(Parsed::Run(args)) =
            parse(&["--base-url=http://x:1", "--cases", "dir", "--filter", "404", "--timeout-ms=5"])
        else {
            panic!("should parse");
        };
        assert!(matches!(&args.target, Target::BaseUrl(url) if url == "http://x:1"));
        assert_eq!(args.cases, PathBuf::from("dir"));
        assert_eq!(args.filter.as_deref(), Some("404"));
        assert_eq!(args.timeout, Duration::from_millis(5));
    }

    #[test]
    fn rejects_bad_usage() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--base-url"]).is_err());
        assert!(parse(&["--base-url", "u", "--bogus"]).is_err());
        assert!(matches!(parse(&["--help"]), Ok(Parsed::Help)));
        assert!(parse(&["--base-url", "u", "--transport-command", "c"]).is_err());
    }

    #[test]
    fn takes_a_transport_command_instead_of_a_server() {
        let Ok(Parsed::Run(args)) = parse(&["--transport-command", "node t.js"]) else {
            panic!("should parse");
        };
        assert!(matches!(&args.target, Target::Command(command) if command == "node t.js"));
    }
}
