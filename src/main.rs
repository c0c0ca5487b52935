//! The `mcp-sigv4` process: arguments, logging to stderr, run, exit code.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use mcp_sigv4::error::{self, Error};

use mcp_sigv4::cli::{self, Args, Command, HELP, UsageError};
use mcp_sigv4::client_config::{
    Client, DECIDING_VARIABLES, Os, default_server_name, shell_only_warning,
};
use mcp_sigv4::config::RuntimeSession;
use mcp_sigv4::config::{Config, log_level, missing_profile, profiles};
use mcp_sigv4::credentials::{Env, Resolver};
use mcp_sigv4::relay;

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // A closed stderr leaves nothing else to do.
            let _ = io::stderr().write_all(error::render(&e).as_bytes());
            if let Failure::BeforeRelay(e) = &e {
                answer_client(e);
            }
            ExitCode::from(match &e {
                // Docker's HEALTHCHECK reserves 2: every failure is 1.
                Failure::Healthcheck(_) => error::EXIT_FAILURE,
                _ => e.exit_code(),
            })
        }
    }
}

/// Why `run` failed: before the relay started (an MCP client on stdin gets
/// the error as the answer to its first request), or after; or a
/// `healthcheck` that could not run (exit 1, as an unhealthy answer).
enum Failure {
    BeforeRelay(Error),
    Other(Error),
    Healthcheck(Error),
}

impl std::ops::Deref for Failure {
    type Target = Error;
    fn deref(&self) -> &Error {
        match self {
            Failure::BeforeRelay(e) | Failure::Other(e) | Failure::Healthcheck(e) => e,
        }
    }
}

/// The most bytes of stdin read to find the client's first request when the
/// relay cannot start (1 MiB), the most lines (64), and the longest wait (10 s).
const STARTUP_READ_BYTES: u64 = 1 << 20;
const STARTUP_READ_LINES: usize = 64;
const STARTUP_READ_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// When stdin is not a terminal (an MCP client started us), reads the
/// client's messages (bounded in bytes, lines and time) until its first
/// request, normally `initialize`, and answers it on stdout with `e` and
/// its fix ([`error::startup_answer`]): MCP clients show that message,
/// where a process that just ends reads as "connection closed".
fn answer_client(e: &Error) {
    if io::stdin().is_terminal() {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    // The reader may stay blocked on stdin; the process ends without it.
    let spawned = std::thread::Builder::new()
        .name("startup-stdin".into())
        .spawn(move || {
            use std::io::{BufRead, Read};
            let mut input = io::BufReader::new(io::stdin().take(STARTUP_READ_BYTES));
            for _ in 0..STARTUP_READ_LINES {
                let mut line = Vec::new();
                match input.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    if spawned.is_err() {
        return;
    }
    let end = std::time::Instant::now() + STARTUP_READ_WAIT;
    while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
        let Ok(line) = rx.recv_timeout(left) else {
            return;
        };
        if let Some(answer) = error::startup_answer(e, &line) {
            let mut out = io::stdout().lock();
            let _ = out.write_all(answer.as_bytes());
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            return;
        }
    }
}

/// What a person who starts `mcp-sigv4` in a terminal reads on stderr.
const TTY_NOTE: &str = "\
mcp-sigv4: waiting for an MCP client on stdin (one JSON-RPC message per line).
  It is meant to be started by an MCP client (Claude, Kiro, VS Code, Cursor, …).
  To check credentials, signing and the endpoint: mcp-sigv4 doctor <endpoint-url>
  To print a client configuration: mcp-sigv4 config <client> <endpoint-url>
  Press Ctrl-D to end.
";

/// Everything but printing the error: the exit code of a run that ended, or
/// why it could not run.
fn run() -> Result<u8, Failure> {
    let args = Args::parse(std::env::args_os().skip(1)).map_err(|e| {
        // Only a relay's client waits for an answer on stdout.
        let words: Vec<_> = std::env::args_os().skip(1).take(1).collect();
        if words.first().is_some_and(|w| w == "healthcheck") {
            Failure::Healthcheck(e.into())
        } else if words
            .first()
            .is_some_and(|w| w == "doctor" || w == "config" || w == "serve")
        {
            Failure::Other(e.into())
        } else {
            Failure::BeforeRelay(e.into())
        }
    })?;
    let before = Failure::BeforeRelay;
    let other = Failure::Other;
    if args.help {
        let _ = io::stdout().write_all(HELP.as_bytes());
        return Ok(error::EXIT_OK);
    }
    if args.version {
        let _ = writeln!(io::stdout(), "{}", cli::version());
        return Ok(error::EXIT_OK);
    }
    let relay_mode = args.command == Command::Relay;
    let level = log_level(args.log_level.as_deref()).map_err(|e| {
        if relay_mode {
            before(e.into())
        } else {
            other(e.into())
        }
    })?;
    init_logging(level);
    match &args.command {
        Command::Config {
            client,
            name,
            args: given,
        } => {
            return print_client_config(&args, client, name.as_deref(), given).map_err(other);
        }
        Command::Doctor { json } => {
            let report = mcp_sigv4::doctor::run(&args).map_err(|e| other(e.into()))?;
            let text = if *json { report.json() } else { report.text() };
            let _ = io::stdout().write_all(text.as_bytes());
            return Ok(report.exit_code());
        }
        Command::Serve(serve) => return run_serve(&args, serve).map_err(other),
        Command::Healthcheck(h) => {
            return run_healthcheck(h).map_err(|e| Failure::Healthcheck(e.into()));
        }
        Command::Relay => {}
    }
    if io::stdin().is_terminal() {
        // Run by hand: say what this program waits for (stderr only; stdout
        // carries protocol messages).
        let _ = io::stderr().write_all(TTY_NOTE.as_bytes());
    }
    let (config, auth) = configure(&args).map_err(before)?;
    // `--runtime-session identity` needs the caller's ARN: the relay asks STS
    // when the first request needs the id, on that exchange's thread.
    let runtime_session = (config.relay.runtime_session != Some(RuntimeSession::Identity))
        .then(mcp_sigv4::random::random_id);
    // stdin is read on a thread of the relay's own, so a closed stdout can end
    // the run while a read of stdin still blocks.
    let stdin = io::BufReader::with_capacity(64 << 10, io::stdin());
    let ended = relay::run(
        config.endpoint,
        config.timeouts,
        config.relay,
        auth,
        runtime_session,
        stdin,
        io::stdout(),
    )
    .map_err(|e| other(Error::Relay(Box::new(e))))?;
    log::debug!("relay ended: {ended}");
    match ended {
        relay::Ended::StdinFailed(e) => Err(other(Error::Relay(
            format!("reading stdin failed: {e}").into(),
        ))),
        // The client ended the conversation (closing stdin or stdout).
        _ => Ok(error::EXIT_OK),
    }
}

/// The configuration `args` and the environment give, logged, and the
/// request signer; the default profile's credentials are resolved on a
/// thread of their own.
fn configure(args: &Args) -> Result<(Config, mcp_sigv4::auth::RequestAuth), Error> {
    let env = Env::process();
    let profile = profiles(args, &env)?.into_iter().next();
    let resolver = Resolver::new(env, profile);
    let config = Config::resolve(args, &resolver)?;
    log::debug!(
        "endpoint {} service {} region {} (from {}), profile '{}', {}{}",
        config.endpoint.url(),
        config.service,
        config.region,
        config.region_source,
        resolver.profile_name(),
        config.signing.initial,
        if config.signing.upgrade {
            format!(
                " with a switch to SigV4A (region set {}) if refused",
                config.signing.region_set
            )
        } else {
            String::new()
        }
    );
    if let [default, others @ ..] = config.relay.profiles.as_slice() {
        log::info!(
            "{} AWS profiles: {default} (the default), {}; tools gain an aws_profile argument, and each profile's calls go in an MCP session of its own",
            others.len() + 1,
            others.join(", ")
        );
    }
    let auth = config.request_auth(resolver);
    // Resolve credentials once now, so a problem shows in the log at start-up;
    // the relay (or serve) still starts and answers each request with the error and its fix.
    // (The other profiles' are resolved on their first call.) This runs on a
    // thread of its own, so a slow source (a credential_process waiting for a
    // prompt, an SSO refresh) does not hold up the relay: the end of stdin and
    // SIGTERM are seen at once, and the first request waits for this same
    // resolution (the provider runs one at a time).
    resolve_in_background(&auth);
    Ok((config, auth))
}

/// Resolves the credentials once on a thread of its own, so a problem shows
/// in the log at start-up without holding anything up.
fn resolve_in_background(auth: &mcp_sigv4::auth::RequestAuth) {
    let provider = auth.provider().clone();
    let spawned = std::thread::Builder::new()
        .name("credentials".into())
        .spawn(move || {
            if let Err(e) = provider.credentials() {
                log::warn!("{e}");
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start a thread to resolve credentials at start-up: {e}");
    }
}

/// `mcp-sigv4 serve <endpoint> …`: checks the flags and the configuration,
/// then serves until SIGTERM or SIGINT (exit 0).
fn run_serve(args: &Args, serve: &cli::ServeArgs) -> Result<u8, Error> {
    let options = mcp_sigv4::serve::Options::resolve(serve)?;
    let (config, auth) = configure(args)?;
    mcp_sigv4::serve::run_relay(
        options,
        config.endpoint,
        config.timeouts,
        config.relay,
        auth,
    )
    .map_err(|e| Error::Relay(format!("serve: {e}").into()))?;
    Ok(error::EXIT_OK)
}

/// `mcp-sigv4 healthcheck [URL] …`: one GET of a serve's probe; its line on
/// stderr (stdout stays empty, as for every command but the relay's
/// protocol and printed documents), exit 0 on a 2xx answer, else 1.
fn run_healthcheck(h: &cli::HealthcheckArgs) -> Result<u8, UsageError> {
    use mcp_sigv4::healthcheck;
    let text = h.target.as_deref().unwrap_or(healthcheck::DEFAULT_URL);
    let target = healthcheck::Target::parse(text, h.path.as_deref()).map_err(UsageError::new)?;
    let report = healthcheck::check(target, h.timeout.unwrap_or(healthcheck::DEFAULT_TIMEOUT));
    let _ = writeln!(io::stderr(), "{}", report.line());
    Ok(report.exit_code())
}

/// `mcp-sigv4 config <client> …`: checks that the arguments resolve here,
/// then prints the client's configuration on stdout and where it goes on
/// stderr.
fn print_client_config(
    args: &Args,
    client: &str,
    name: Option<&str>,
    given: &[String],
) -> Result<u8, Error> {
    let client = Client::parse(client).map_err(UsageError::new)?;
    let env = Env::process();
    let names = profiles(args, &env)?;
    let resolver = Resolver::new(env, names.first().cloned());
    // A profile the files do not define would fail on every request.
    for name in &names {
        if let Some(e) = missing_profile(&resolver, name) {
            return Err(e.into());
        }
    }
    let config = Config::resolve(args, &resolver)?;
    // What decides credentials, profile and region but is set only in this
    // shell: a GUI client will not have it.
    let shell_only: Vec<(String, String)> = DECIDING_VARIABLES
        .iter()
        .filter(|(name, _)| {
            let overridden = match *name {
                "AWS_REGION" | "AWS_DEFAULT_REGION" => config.region_source != *name,
                "AWS_PROFILE"
                | "AWS_ACCESS_KEY_ID"
                | "AWS_SECRET_ACCESS_KEY"
                | "AWS_SESSION_TOKEN" => !args.profiles.is_empty(),
                "AWS_CA_BUNDLE" => args.ca_bundle.is_some(),
                _ => false,
            };
            !overridden
        })
        .filter_map(|(name, _)| {
            resolver
                .env()
                .get_nonblank(name)
                .map(|v| ((*name).to_owned(), v.trim().to_owned()))
        })
        .collect();
    let name = name.map_or_else(|| default_server_name(Some(&config.service)), str::to_owned);
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| {
            Error::Relay(format!("cannot tell where this mcp-sigv4 binary is: {e}").into())
        })?;
    let os = Os::current();
    let text = client.render(&name, &exe.to_string_lossy(), given, os);
    let _ = io::stdout().write_all(text.as_bytes());
    let _ = writeln!(io::stderr(), "mcp-sigv4: {}", client.location(&name, os));
    // A framework's program passes this shell's variables on when it runs.
    let shell_only = if matches!(client, Client::Framework(_)) {
        Vec::new()
    } else {
        shell_only
    };
    if let Some(w) = shell_only_warning(&shell_only) {
        let _ = writeln!(io::stderr(), "mcp-sigv4: {w}");
    }
    Ok(error::EXIT_OK)
}

/// Logs go to stderr only. Our crate logs at `level`; ureq_proto and rustls at
/// most at `debug`, because their `trace` level prints raw headers
/// (`Authorization`, `X-Amz-Security-Token`) unredacted; ureq at most at
/// `info`, because its `debug` level prints every response header raw, and a
/// server may echo a secret the request carried in one.
fn init_logging(level: log::LevelFilter) {
    let library = level.min(log::LevelFilter::Debug);
    let ureq = level.min(log::LevelFilter::Info);
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Warn.min(level))
        .filter_module("mcp_sigv4", level)
        .filter_module("mcp_sigv4::relay", level)
        .filter_module("ureq", ureq)
        .filter_module("ureq_proto", library)
        .filter_module("rustls", library)
        .target(env_logger::Target::Stderr)
        .format_timestamp_millis()
        .init();
}
