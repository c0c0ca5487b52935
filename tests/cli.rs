//! Golden tests of the built binary's command line: for each usage error, and
//! for `--help` and `--version`, the exact exit status, stdout and stderr (as
//! ripgrep and rage pin theirs).
//!
//! Owns: [`GOLDEN`], the one table of expected texts (a change to `--help`,
//! `--version` or a message updates [`HELP`] or the table here, nowhere else;
//! only the build's own facts in `--version` — commit, target, linkage — are
//! filled in, by [`fill`]), and a runner that reports every case that differs,
//! not just the first.
//! Refuses: depending on the machine. Each run has an empty environment except
//! `HOME`, a fresh temporary directory that is also the working directory;
//! stdin is empty; no case reaches the network (the endpoints are refused
//! before any request, and `192.0.2.10` is a literal documentation address, so
//! no DNS either). Every run is bounded by [`RUN_LIMIT`].

mod support;
#[path = "support/vector_files.rs"]
mod vector_files;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{TempDir, output_within};
use vector_files::describe_difference;

/// One run of `mcp-sigv4 <args>` and what it must print.
struct Golden {
    /// What the case shows.
    name: &'static str,
    args: &'static [&'static str],
    /// The exit status.
    status: i32,
    /// Stdout, exactly.
    stdout: &'static str,
    /// Stderr, exactly.
    stderr: &'static str,
}

/// The `--version` line. `{version}`, `{commit}`, `{target}` and `{linkage}`
/// are what this build is ([`fill`]); the rest is pinned.
const VERSION: &str = "mcp-sigv4 {version} (commit {commit}, {target}, {linkage})\n";

/// Every case, with its expected texts.
const GOLDEN: &[Golden] = &[
    Golden {
        name: "no arguments",
        args: &[],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: expected an endpoint URL\nhint: mcp-sigv4 <endpoint-url> [options]; see `mcp-sigv4 --help`\n",
    },
    Golden {
        name: "an unknown flag",
        args: &["https://x.example/mcp", "--nope"],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: invalid option '--nope'\nhint: see `mcp-sigv4 --help`\n",
    },
    Golden {
        name: "a flag without its value",
        args: &["https://x.example/mcp", "--region"],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: missing argument for option '--region'\nhint: see `mcp-sigv4 --help`\n",
    },
    Golden {
        name: "a bad number",
        args: &["https://x.example/mcp", "--retries", "x"],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: --retries: expected a number from 0 to 10, found \"x\"\nhint: see `mcp-sigv4 --help`\n",
    },
    Golden {
        name: "a bad size",
        args: &["https://x.example/mcp", "--max-event-size", "lots"],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: --max-event-size: expected a size between 1KiB and 4GiB (bytes, or e.g. 512KiB, 64MiB), found \"lots\"\nhint: see `mcp-sigv4 --help`\n",
    },
    Golden {
        name: "two endpoint URLs",
        args: &["https://a.example/mcp", "https://b.example/mcp"],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: expected one endpoint URL, found a second one: \"https://b.example/mcp\"\nhint: see `mcp-sigv4 --help`\n",
    },
    Golden {
        name: "--help",
        args: &["--help"],
        status: 0,
        stdout: HELP,
        stderr: "",
    },
    Golden {
        name: "-h",
        args: &["-h"],
        status: 0,
        stdout: HELP,
        stderr: "",
    },
    Golden {
        name: "--version",
        args: &["--version"],
        status: 0,
        stdout: VERSION,
        stderr: "",
    },
    Golden {
        name: "-V",
        args: &["-V"],
        status: 0,
        stdout: VERSION,
        stderr: "",
    },
    Golden {
        name: "help as a word",
        args: &["help"],
        status: 0,
        stdout: HELP,
        stderr: "",
    },
    Golden {
        name: "-help, as Go spells it",
        args: &["-help"],
        status: 0,
        stdout: HELP,
        stderr: "",
    },
    Golden {
        name: "version as a word",
        args: &["version"],
        status: 0,
        stdout: VERSION,
        stderr: "",
    },
    Golden {
        name: "-version, as Go spells it",
        args: &["-version"],
        status: 0,
        stdout: VERSION,
        stderr: "",
    },
    Golden {
        name: "a flag typo gets a did-you-mean",
        args: &["https://x.example/mcp", "--regoin", "us-east-1"],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: invalid option '--regoin'; did you mean --region?\nhint: see `mcp-sigv4 --help`\n",
    },
    Golden {
        name: "a doctor flag typo gets a did-you-mean",
        args: &["doctor", "https://x.example/mcp", "--servce", "svc"],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: invalid option '--servce'; did you mean --service?\nhint: see `mcp-sigv4 --help`\n",
    },
    Golden {
        name: "a scheme other than https",
        args: &["ftp://x.example/mcp"],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: invalid endpoint URL \"ftp://x.example/mcp\": expected the scheme https:// (or http:// for a loopback host), found \"ftp\"\n",
    },
    Golden {
        name: "plain http to a host that is not loopback",
        args: &[
            "http://192.0.2.10/mcp",
            "--service",
            "svc",
            "--region",
            "us-east-1",
        ],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: refusing plain http:// to 192.0.2.10: signed requests and tokens would travel unencrypted; use https:// (http:// is allowed only to a loopback address, localhost)\n",
    },
    Golden {
        name: "a --header without NAME=VALUE",
        args: &[
            "https://x.example/mcp",
            "--service",
            "svc",
            "--region",
            "us-east-1",
            "--header",
            "nope",
        ],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: --header: expected NAME=VALUE (the text given is not shown)\nhint: write it as --header NAME=VALUE, e.g. --header X-Team=search\n",
    },
    Golden {
        name: "an unknown --log-level",
        args: &["https://x.example/mcp", "--log-level", "nonsense"],
        status: 2,
        stdout: "",
        stderr: "mcp-sigv4: --log-level: expected error, warn, info, debug, trace or off (or DEBUG, INFO, WARNING, ERROR, CRITICAL), found \"nonsense\"\n",
    },
    Golden {
        name: "healthcheck with a flag it does not take: 1, as every failed check",
        args: &["healthcheck", "--region", "us-east-1"],
        status: 1,
        stdout: "",
        stderr: "mcp-sigv4: healthcheck: invalid option '--region'; it takes a URL, --path and --timeout\nhint: see `mcp-sigv4 --help`\n",
    },
    Golden {
        name: "healthcheck of a host off this machine",
        args: &["healthcheck", "http://192.0.2.1:8080/readyz"],
        status: 1,
        stdout: "",
        stderr: "mcp-sigv4: refusing 192.0.2.1: healthcheck asks only a serve on this machine (a loopback address; names other than localhost are not resolved); expected http://127.0.0.1:PORT/readyz (or [::1], localhost) or unix:/path/to/socket\nhint: see `mcp-sigv4 --help`\n",
    },
];

/// The `--help` text.
const HELP: &str = "\
mcp-sigv4: a stdio MCP server that relays every JSON-RPC message to a remote MCP
server over Streamable HTTP, signing each request with AWS SigV4 using your own
AWS credentials.

Usage: mcp-sigv4 <endpoint-url | agentcore-runtime-arn> [options]
       mcp-sigv4 doctor <endpoint-url> [options] [--json]
       mcp-sigv4 config <client> <endpoint-url> [options] [--name <server-name>]
       mcp-sigv4 serve <endpoint-url> [options] [--listen 127.0.0.1:PORT | unix:/path] …
       mcp-sigv4 healthcheck [http://127.0.0.1:PORT/readyz | unix:/path [--path /readyz]] [--timeout S]

Commands:
  (none)                    run as the stdio MCP server an MCP client starts
  doctor                    check credentials, identity, signing, DNS/TCP/TLS and the endpoint
                            (a signed initialize and tools/list), one line per step
  config <client>           print a ready-to-paste configuration for claude-desktop,
                            claude-code, vscode, cursor, kiro or amazon-q, or a runnable
                            Python program for strands, langchain, openai-agents or llamaindex
  serve                     a local MCP Streamable HTTP endpoint at /mcp (plus /healthz, /readyz)
                            relaying each client session in its own signed session; its flags:
                            --listen (default 127.0.0.1:8080), --token-file, --max-connections,
                            --max-sessions, --max-body-bytes, --max-head-bytes, --request-timeout,
                            --keep-alive, --session-idle, --drain-timeout (see the serve manual page)
  healthcheck [URL]         GET a serve's probe on this machine (default
                            http://127.0.0.1:8080/readyz; loopback http:// or unix:/path with
                            --path, default /readyz) for a container health check without a
                            shell; exit 0 on a 2xx answer, else 1; one line on stderr; --timeout
                            (default 3 s) bounds it all

Arguments:
  <endpoint-url>            the remote MCP endpoint, e.g.
                            'https://bedrock-agentcore.us-east-1.amazonaws.com/runtimes/<escaped ARN>/invocations?qualifier=DEFAULT'
                            (env: MCP_TARGET_URL, or AGENTCORE_AGENT_ARN / AGENT_ARN for an ARN)
  <agentcore-runtime-arn>   or an AgentCore Runtime ARN,
                            arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>

Signing:
  --service <name>          signing name (default: inferred from the host, e.g. bedrock-agentcore;
                            env: AWS_SERVICE_NAME)
  --region <region>         signing region (default: from the host, else AWS_REGION,
                            AWS_DEFAULT_REGION, the profile's region)
  --profile <name>...       AWS profile to take credentials from (default: AWS_PROFILE, else
                            default; AWS_MCP_PROXY_PROFILES=a,b wins when set). Several (at most
                            32; the first is the default): every tool gains an optional
                            aws_profile argument, and a call that names a profile is signed with
                            its credentials in an MCP session of its own
  --sig-version <v>         v4, v4a or auto (default auto; env: AWS_SIG_VERSION): auto signs SigV4
                            and, on a global endpoint, switches to SigV4A if the server refuses SigV4
  --region-set <set>        SigV4A region set, e.g. * or us-east-1,us-west-2 (default: * for a
                            global endpoint, else the region; env: AWS_SIGV4A_SIGNING_REGION_SET)
  --skip-auth               send requests unsigned when no AWS credentials can be found
                            (with a warning)

Credentials:
  --role-arn <arn>          assume this role on top of the credentials found (env:
                            AGENTCORE_ASSUME_ROLE_ARN)
  --role-session-name <n>   session name for the roles we assume (default: one name per process,
                            mcp-sigv4-<time>; env: AWS_ROLE_SESSION_NAME,
                            AGENTCORE_ASSUME_ROLE_SESSION_NAME)
  --external-id <id>        external id for --role-arn

AgentCore Runtime:
  --qualifier <name>        runtime endpoint for an ARN (default DEFAULT)
  --runtime-session <mode>  X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: identity (a hash of
                            the caller identity), session (one per process; the default for
                            AgentCore runtimes) or request (a new one per request)
                            (env: RUNTIME_SESSION_MODE)

Requests:
  --header <K=V>            add a header to every request (repeatable; signed like the rest)
  --headers <K=V,K2=V2>     add several headers (env: MCP_HEADERS)
  --metadata <K=V>...       add keys to every request's params._meta (repeatable)
  --read-only               list and call only tools annotated readOnlyHint: true
  --allow-write             the default: every tool is listed and callable
  --retries <n>             retries for requests that failed without taking effect (default 2)
  --max-in-flight <n>       client requests sent at once (default 64, 1 to 1024); past it they
                            queue, and when the queue is full they are refused; pings, cancellations,
                            notifications and answers to the server go ahead

TLS and network:
  --ca-bundle <file>        PEM certificates to trust instead of the built-in roots, for every
                            HTTPS request (env: AWS_CA_BUNDLE; profile: ca_bundle)
                            Proxies: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured.

Timeouts (seconds, or a duration such as 30s, 2m, 500ms):
  --connect-timeout <s>     TCP and TLS connect (default 60)
  --read-timeout <s>        longest wait for the next bytes of an answer (default 120)
  --write-timeout <s>       sending one request (default 180)
  --timeout <s>             a whole exchange other than a tool call (default 180; env: MCP_TIMEOUT)
  --tool-timeout <s>        a tools/call: longest wait without any message for it (default 300)

Limits (bytes, or with a unit: 512KiB, 64MiB, 1GiB); each is answered with a JSON-RPC error
carrying the request's id:
  --max-line-size <n>       one message from the client on stdin (default 64MiB)
  --max-message-size <n>    one JSON answer from the server (default 64MiB)
  --max-event-size <n>      one SSE event from the server; a stream may carry any number
                            (default 64MiB)
  --max-header-size <n>     the status line and headers of one answer (default 64KiB)
  --max-stdout-queue <n>    answers waiting for the client to read stdout; past it the relay
                            stops reading from the server until the client catches up (default
                            16MiB; one larger message still passes alone)

Other:
  --log-level <level>       error, warn, info, debug, trace or off (default warn; also the Python
                            proxy's DEBUG, INFO, WARNING, ERROR, CRITICAL); logs go to stderr
  --disable-telemetry, --sse
                            accepted for the other proxies' command lines; mcp-sigv4 sends no
                            telemetry and always accepts SSE answers
  -h, --help                print this help
  -V, --version             print the version, commit, target and whether the binary is static

Credentials are found as the AWS SDKs find them: the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the selected
profile in ~/.aws/config and ~/.aws/credentials (AWS_CONFIG_FILE,
AWS_SHARED_CREDENTIALS_FILE; static keys, credential_process, IAM Identity Center,
web identity, role_arn chains), then AWS_WEB_IDENTITY_TOKEN_FILE, container
credentials and EC2 instance metadata; they are renewed before they expire.
";

/// `text` with the facts of this build put in: `{version}` (Cargo.toml),
/// `{commit}` (what `src/build.rs` gave every target of the package, the binary
/// and this test alike; `unknown` outside a checkout), `{target}` (arch-os and
/// C library, e.g. `x86_64-linux-gnu`) and `{linkage}` (`static` or
/// `dynamically linked`).
fn fill(text: &str) -> String {
    let libc = if cfg!(target_env = "musl") {
        "-musl"
    } else if cfg!(target_env = "gnu") {
        "-gnu"
    } else if cfg!(target_env = "msvc") {
        "-msvc"
    } else {
        ""
    };
    let target = format!("{}-{}{libc}", std::env::consts::ARCH, std::env::consts::OS);
    let linkage = if cfg!(target_feature = "crt-static") {
        "static"
    } else {
        "dynamically linked"
    };
    text.replace("{version}", env!("CARGO_PKG_VERSION"))
        .replace(
            "{commit}",
            option_env!("MCP_SIGV4_COMMIT").unwrap_or("unknown"),
        )
        .replace("{target}", &target)
        .replace("{linkage}", linkage)
}

/// The longest one run may take.
const RUN_LIMIT: Duration = Duration::from_secs(10);

/// Runs the binary with `args`; `(status, stdout, stderr)`, or why not.
fn run(args: &[&str]) -> Result<(Option<i32>, String, String), String> {
    let home = TempDir::new("cli-home");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-sigv4"))
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .current_dir(home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start mcp-sigv4: {e}"))?;
    // Both texts are far below a pipe's buffer, so waiting first cannot block.
    let end = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {RUN_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    Ok((status.code(), stdout, stderr))
}

/// Everything left in a finished process's pipe, as text.
fn read_all(pipe: Option<impl Read>) -> String {
    let mut bytes = Vec::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn usage_errors_help_and_version_print_exactly_the_golden_texts() {
    let mut failures = Vec::new();
    for case in GOLDEN {
        let (status, stdout, stderr) = match run(case.args) {
            Ok(r) => r,
            Err(why) => {
                failures.push(format!("{}: {why}", case.name));
                continue;
            }
        };
        if status != Some(case.status) {
            failures.push(format!(
                "{} ({:?}): expected exit status {}, found {status:?}",
                case.name, case.args, case.status
            ));
        }
        for (stream, expected, found) in [
            ("stdout", fill(case.stdout), &stdout),
            ("stderr", fill(case.stderr), &stderr),
        ] {
            if &expected != found {
                failures.push(format!(
                    "{} ({:?}) {stream}: {}",
                    case.name,
                    case.args,
                    describe_difference(&expected, found)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases differ:\n  {}",
        failures.len(),
        GOLDEN.len(),
        failures.join("\n  ")
    );
}

/// Started by hand (stdin a terminal: util-linux `script` gives the binary a
/// pseudo-terminal), the relay says on stderr what it waits for and how to
/// try it; `doctor` and `config` do not print the note.
#[test]
fn a_terminal_on_stdin_gets_a_note_on_stderr() {
    let bin = env!("CARGO_BIN_EXE_mcp-sigv4");
    let script = std::path::Path::new("/usr/bin/script");
    assert!(
        script.exists(),
        "this test needs util-linux's `script` (Debian package bsdutils) to give the binary a terminal"
    );
    let run_typing = |args: &str, typed: &str| {
        let mut child = Command::new(script)
            .args(["-qec", &format!("{bin} {args}"), "/dev/null"])
            .env_clear()
            .env("HOME", std::env::temp_dir())
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting script");
        std::thread::sleep(Duration::from_millis(800));
        // Ctrl-D on the terminal: the end of the binary's stdin.
        use std::io::Write;
        let _ = child.stdin.as_mut().unwrap().write_all(typed.as_bytes());
        let _ = child.stdin.as_mut().unwrap().write_all(b"\x04");
        let out = output_within(
            child,
            Duration::from_secs(20),
            "the binary ended after Ctrl-D",
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let run = |args: &str| run_typing(args, "");
    // `script` puts the terminal's output (stdout and stderr) on its stdout.
    let relay = run("http://127.0.0.1:9/ --service s --region r");
    assert!(
        relay.contains("mcp-sigv4: waiting for an MCP client on stdin")
            && relay.contains("mcp-sigv4 doctor <endpoint-url>"),
        "{relay}"
    );
    let config = run("config kiro http://127.0.0.1:9/ --service s --region r");
    assert!(config.contains("\"mcpServers\""), "{config}");
    assert!(!config.contains("waiting for an MCP client"), "{config}");
    // A relay that cannot start, on a terminal: the plain error only; what
    // is typed is not read as a client's request to answer.
    let failed = run_typing(
        "https://mcp.example.com/mcp --region us-east-1",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}\r",
    );
    assert!(
        failed.contains("mcp-sigv4: cannot tell the AWS service from the host mcp.example.com"),
        "{failed}"
    );
    assert!(!failed.contains("could not start"), "{failed}");
}
