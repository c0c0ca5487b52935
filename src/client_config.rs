//! Ready-to-paste MCP client configurations (`mcp-sigv4 config <client> …`).
//!
//! Owns: the configuration shape each MCP client reads for a stdio server,
//! filled with the absolute path of this binary and the arguments the user
//! gave, and where each client keeps that file on each operating system
//! ([`Os`]). Each shape and path follows the client's own documentation,
//! cited next to it. Pure: the caller supplies the command path, the
//! arguments and the OS ([`Os::current`] is the only `cfg`).
//! Refuses: writing any file (the user pastes or redirects the output), and
//! putting credentials in a configuration: the server entry carries only the
//! command and its arguments, and credentials stay in the AWS profile or the
//! environment.

use serde_json::{Map, Value, json};

pub use crate::framework_snippet::Framework;

/// The operating system a configuration is for: where each client keeps its
/// file, and how a command line is quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    /// Linux (and other Unix systems but macOS).
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Os {
    /// The OS this binary was built for.
    pub fn current() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }

    /// `~/<rel>` on macOS and Linux, `%USERPROFILE%\<rel>` with backslashes on
    /// Windows (`rel` written with `/`).
    fn home(self, rel: &str) -> String {
        match self {
            Os::Windows => format!("%USERPROFILE%\\{}", rel.replace('/', "\\")),
            _ => format!("~/{rel}"),
        }
    }
}

/// An MCP client we print a configuration for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// Claude Desktop: `claude_desktop_config.json`.
    ClaudeDesktop,
    /// Claude Code: a `claude mcp add` command line.
    ClaudeCode,
    /// VS Code (GitHub Copilot agent mode): `mcp.json`.
    VsCode,
    /// Cursor: `~/.cursor/mcp.json`.
    Cursor,
    /// Kiro (IDE and CLI): `~/.kiro/settings/mcp.json`.
    Kiro,
    /// Amazon Q Developer CLI: an agent file under `~/.aws/amazonq/cli-agents/`.
    AmazonQ,
    /// An agent framework: a runnable Python program ([`Framework`]).
    Framework(Framework),
}

/// The names `config` takes, in the order `--help` lists them.
pub const CLIENT_NAMES: [&str; 10] = [
    "claude-desktop",
    "claude-code",
    "vscode",
    "cursor",
    "kiro",
    "amazon-q",
    "strands",
    "langchain",
    "openai-agents",
    "llamaindex",
];

impl Client {
    /// The client named `name` (one of [`CLIENT_NAMES`]).
    ///
    /// # Errors
    /// A message listing the names, for any other.
    pub fn parse(name: &str) -> Result<Client, String> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "claude-desktop" | "claude" => Client::ClaudeDesktop,
            "claude-code" => Client::ClaudeCode,
            "vscode" | "vs-code" | "code" => Client::VsCode,
            "cursor" => Client::Cursor,
            "kiro" | "kiro-cli" => Client::Kiro,
            "amazon-q" | "amazonq" | "q" => Client::AmazonQ,
            other if Framework::parse(other).is_some() => {
                Client::Framework(Framework::parse(other).expect("just checked"))
            }
            _ => {
                return Err(format!(
                    "unknown MCP client {name:?}; expected one of {}",
                    CLIENT_NAMES.join(", ")
                ));
            }
        })
    }

    /// Where the client reads the configuration on `os`, and how to add it;
    /// printed on stderr so stdout holds only what to paste.
    pub fn location(self, server: &str, os: Os) -> String {
        match self {
            Client::Framework(f) => f.location(),
            // https://modelcontextprotocol.io/quickstart/user ("For Claude
            // Desktop Users": Settings > Developer > Edit Config opens
            // ~/Library/Application Support/Claude/claude_desktop_config.json
            // on macOS, %APPDATA%\Claude\claude_desktop_config.json on
            // Windows). Claude Desktop is made for macOS and Windows only.
            Client::ClaudeDesktop => {
                let file = match os {
                    Os::MacOs => "~/Library/Application Support/Claude/claude_desktop_config.json",
                    Os::Windows => "%APPDATA%\\Claude\\claude_desktop_config.json",
                    Os::Linux => {
                        return "Claude Desktop is made for macOS and Windows; there, add to claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\), merging into \"mcpServers\" if it exists".into();
                    }
                };
                format!(
                    "add to {file} (Settings > Developer > Edit Config opens it), merging into \"mcpServers\" if it exists; then restart Claude Desktop"
                )
            }
            // https://docs.anthropic.com/en/docs/claude-code/mcp ("Add a local
            // stdio server": claude mcp add [options] <name> -- <command> [args...];
            // --scope user makes it available in every project).
            Client::ClaudeCode => format!(
                "run this command{}; `claude mcp list` shows the server afterwards",
                if os == Os::Windows {
                    " (in PowerShell or cmd)"
                } else {
                    ""
                }
            ),
            // https://code.visualstudio.com/docs/copilot/chat/mcp-servers
            // ("servers" object, "type": "stdio"; the user configuration
            // is mcp.json in the user profile folder,
            // https://code.visualstudio.com/docs/configure/settings#_settings-file-locations:
            // %APPDATA%\Code\User, ~/Library/Application Support/Code/User,
            // ~/.config/Code/User).
            Client::VsCode => {
                let user = match os {
                    Os::MacOs => "~/Library/Application Support/Code/User/mcp.json",
                    Os::Windows => "%APPDATA%\\Code\\User\\mcp.json",
                    Os::Linux => "~/.config/Code/User/mcp.json",
                };
                format!(
                    "add to .vscode/mcp.json in your workspace, or to your user {user} (command palette: \"MCP: Open User Configuration\"), merging into \"servers\" if it exists"
                )
            }
            // https://docs.cursor.com/context/model-context-protocol
            // ("mcpServers" in ~/.cursor/mcp.json or .cursor/mcp.json).
            Client::Cursor => format!(
                "add to {} (every project) or .cursor{}mcp.json (one project), merging into \"mcpServers\" if it exists",
                os.home(".cursor/mcp.json"),
                if os == Os::Windows { "\\" } else { "/" }
            ),
            // https://kiro.dev/docs/mcp/configuration ("Configuration
            // locations": user ~/.kiro/settings/mcp.json, workspace
            // .kiro/settings/mcp.json; the same file serves the Kiro CLI).
            Client::Kiro => format!(
                "add to {} (user) or .kiro/settings/mcp.json in the workspace, merging into \"mcpServers\" if it exists",
                os.home(".kiro/settings/mcp.json")
            ),
            // https://docs.aws.amazon.com/amazonq/latest/qdeveloper-ug/qdev-mcp.html
            // (global MCP configuration under ~/.aws/amazonq/cli-agents) and the
            // Q CLI agent format (https://aws.github.io/amazon-q-developer-cli/,
            // "Agent Format": mcpServers, tools with "@<server>").
            Client::AmazonQ => format!(
                "save as {} and start `q chat --agent {server}`; in the IDE, merge \"mcpServers\" into {}",
                os.home(&format!(".aws/amazonq/cli-agents/{server}.json")),
                os.home(".aws/amazonq/agents/default.json")
            ),
        }
    }

    /// The configuration text for server `name` started as `command args…`
    /// on `os` (`command` as that OS spells a path, e.g.
    /// `C:\\Users\\me\\bin\\mcp-sigv4.exe`; JSON escapes its backslashes;
    /// Claude Code's command line is quoted for a POSIX shell, or for
    /// PowerShell and cmd on Windows).
    pub fn render(self, name: &str, command: &str, args: &[String], os: Os) -> String {
        let entry = || {
            let mut e = Map::new();
            e.insert("command".into(), json!(command));
            e.insert("args".into(), json!(args));
            e
        };
        let doc = match self {
            Client::Framework(f) => return f.render(name, command, args),
            Client::ClaudeCode => {
                let quote = match os {
                    Os::Windows => windows_quote,
                    _ => shell_quote,
                };
                let mut line = format!("claude mcp add --scope user {} --", quote(name));
                for word in std::iter::once(command).chain(args.iter().map(String::as_str)) {
                    line.push(' ');
                    line.push_str(&quote(word));
                }
                return line + "\n";
            }
            Client::ClaudeDesktop | Client::Cursor => {
                json!({ "mcpServers": { name: Value::Object(entry()) } })
            }
            Client::VsCode => {
                let mut e = Map::new();
                e.insert("type".into(), json!("stdio"));
                e.extend(entry());
                json!({ "servers": { name: Value::Object(e) } })
            }
            Client::Kiro => {
                let mut e = entry();
                e.insert("disabled".into(), json!(false));
                e.insert("autoApprove".into(), json!([]));
                json!({ "mcpServers": { name: Value::Object(e) } })
            }
            Client::AmazonQ => json!({
                "name": name,
                "description": "AWS MCP server through mcp-sigv4 (SigV4-signed)",
                "mcpServers": { name: Value::Object(entry()) },
                "tools": [format!("@{name}")],
            }),
        };
        let mut text = serde_json::to_string_pretty(&doc).expect("a JSON value serializes");
        text.push('\n');
        text
    }
}

/// The variables that decide which credentials, profile, region, files and
/// CA bundle the relay uses, each with whether its value is secret (a
/// secret one is shown as a placeholder, never its value).
pub const DECIDING_VARIABLES: [(&str, bool); 10] = [
    ("AWS_PROFILE", false),
    ("AWS_MCP_PROXY_PROFILES", false),
    ("AWS_REGION", false),
    ("AWS_DEFAULT_REGION", false),
    ("AWS_CONFIG_FILE", false),
    ("AWS_SHARED_CREDENTIALS_FILE", false),
    ("AWS_CA_BUNDLE", false),
    ("AWS_ACCESS_KEY_ID", true),
    ("AWS_SECRET_ACCESS_KEY", true),
    ("AWS_SESSION_TOKEN", true),
];

/// The warning for a configuration that relies on `vars` (name and value,
/// set in this shell only, in [`DECIDING_VARIABLES`]' order): GUI clients do
/// not inherit a shell's environment, so the entry needs an `env` object,
/// printed here with the values (placeholders for secret ones). `None` when
/// `vars` is empty.
pub fn shell_only_warning(vars: &[(String, String)]) -> Option<String> {
    if vars.is_empty() {
        return None;
    }
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    let mut env = Map::new();
    for (name, value) in vars {
        let secret = DECIDING_VARIABLES
            .iter()
            .any(|(n, secret)| n == name && *secret);
        let shown = if secret {
            format!("<your {}>", name.to_ascii_lowercase().replace('_', " "))
        } else {
            value.clone()
        };
        env.insert(name.clone(), json!(shown));
    }
    let block =
        serde_json::to_string_pretty(&json!({ "env": env })).expect("a JSON value serializes");
    let keys = names.iter().any(|n| n.starts_with("AWS_ACCESS_KEY"));
    Some(format!(
        "warning: this entry relies on {} set only in this shell; an MCP client started from the dock, the Start menu or a desktop launcher does not inherit a shell's environment and would start without them. Add them to the server entry (next to \"command\"):\n{block}{}",
        names.join(", "),
        if keys {
            "\n(better than keys in a file: keep them in a profile with `aws configure --profile NAME` and pass --profile NAME)"
        } else {
            ""
        }
    ))
}

/// A word for a POSIX shell: as is when it holds only safe characters, else
/// in single quotes (a `'` inside becomes `'\''`). URLs with `?` and `&`
/// are quoted, so zsh does not glob them.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A word for PowerShell and cmd alike: as is when it holds only safe
/// characters, else in double quotes (which keep `&`, `?`, `|`, spaces and
/// backslashes literal in both; a `"` inside is doubled, as cmd and
/// PowerShell read it; `$`, `` ` `` and `%` are left to the user to avoid,
/// since no quoting keeps them literal in both shells).
pub fn windows_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@+\\".contains(&b));
    if safe {
        word.to_owned()
    } else {
        format!("\"{}\"", word.replace('"', "\"\""))
    }
}

/// A server name from the endpoint: the signing name the host carries
/// (`aws-mcp`, `bedrock-agentcore`), else `mcp-sigv4`.
pub fn default_server_name(service: Option<&str>) -> String {
    service
        .filter(|s| !s.is_empty())
        .unwrap_or("mcp-sigv4")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: &str = "/usr/local/bin/mcp-sigv4";

    fn args() -> Vec<String> {
        vec![
            "https://aws-mcp.us-east-1.api.aws/mcp?a=1&b=2".into(),
            "--profile".into(),
            "dev".into(),
        ]
    }

    #[test]
    fn each_client_gets_its_documented_shape() {
        let v: Value =
            serde_json::from_str(&Client::ClaudeDesktop.render("aws", CMD, &args(), Os::Linux))
                .unwrap();
        assert_eq!(
            v,
            json!({"mcpServers":{"aws":{"command":CMD,"args":args()}}})
        );
        let v: Value =
            serde_json::from_str(&Client::Cursor.render("aws", CMD, &args(), Os::Linux)).unwrap();
        assert_eq!(
            v,
            json!({"mcpServers":{"aws":{"command":CMD,"args":args()}}})
        );
        let v: Value =
            serde_json::from_str(&Client::VsCode.render("aws", CMD, &args(), Os::Linux)).unwrap();
        assert_eq!(
            v,
            json!({"servers":{"aws":{"type":"stdio","command":CMD,"args":args()}}})
        );
        let v: Value =
            serde_json::from_str(&Client::Kiro.render("aws", CMD, &args(), Os::Linux)).unwrap();
        assert_eq!(
            v,
            json!({"mcpServers":{"aws":{"command":CMD,"args":args(),"disabled":false,"autoApprove":[]}}})
        );
        let v: Value =
            serde_json::from_str(&Client::AmazonQ.render("aws", CMD, &args(), Os::Linux)).unwrap();
        assert_eq!(v["mcpServers"]["aws"], json!({"command":CMD,"args":args()}));
        assert_eq!(v["tools"], json!(["@aws"]));
        assert_eq!(
            Client::ClaudeCode.render("aws", CMD, &args(), Os::Linux),
            "claude mcp add --scope user aws -- /usr/local/bin/mcp-sigv4 'https://aws-mcp.us-east-1.api.aws/mcp?a=1&b=2' --profile dev\n"
        );
    }

    #[test]
    fn each_os_gets_its_paths_and_its_quoting() {
        let desktop = |os| Client::ClaudeDesktop.location("aws", os);
        assert!(
            desktop(Os::MacOs)
                .contains("~/Library/Application Support/Claude/claude_desktop_config.json"),
            "{}",
            desktop(Os::MacOs)
        );
        assert!(desktop(Os::Windows).contains("%APPDATA%\\Claude\\claude_desktop_config.json"));
        assert!(desktop(Os::Linux).starts_with("Claude Desktop is made for macOS and Windows"));
        assert!(
            Client::VsCode
                .location("aws", Os::Windows)
                .contains("%APPDATA%\\Code\\User\\mcp.json")
        );
        assert!(
            Client::VsCode
                .location("aws", Os::MacOs)
                .contains("~/Library/Application Support/Code/User/mcp.json")
        );
        assert!(
            Client::VsCode
                .location("aws", Os::Linux)
                .contains("~/.config/Code/User/mcp.json")
        );
        assert!(
            Client::Cursor
                .location("aws", Os::Windows)
                .contains("%USERPROFILE%\\.cursor\\mcp.json")
        );
        assert!(
            Client::Kiro
                .location("aws", Os::Windows)
                .contains("%USERPROFILE%\\.kiro\\settings\\mcp.json")
        );
        assert!(
            Client::Kiro
                .location("aws", Os::MacOs)
                .contains("~/.kiro/settings/mcp.json")
        );
        assert!(
            Client::AmazonQ
                .location("aws", Os::Windows)
                .contains("%USERPROFILE%\\.aws\\amazonq\\cli-agents\\aws.json")
        );

        let exe = "C:\\Program Files\\mcp-sigv4\\mcp-sigv4.exe";
        let v: Value =
            serde_json::from_str(&Client::ClaudeDesktop.render("aws", exe, &args(), Os::Windows))
                .unwrap();
        assert_eq!(v["mcpServers"]["aws"]["command"], exe);
        assert_eq!(
            Client::ClaudeCode.render("aws", exe, &args(), Os::Windows),
            "claude mcp add --scope user aws -- \"C:\\Program Files\\mcp-sigv4\\mcp-sigv4.exe\" \"https://aws-mcp.us-east-1.api.aws/mcp?a=1&b=2\" --profile dev\n"
        );
        assert_eq!(windows_quote("C:\\bin\\m.exe"), "C:\\bin\\m.exe");
        assert_eq!(windows_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(windows_quote(""), "\"\"");
    }

    #[test]
    fn shell_only_variables_get_an_env_block_without_secrets() {
        assert_eq!(shell_only_warning(&[]), None);
        let vars = vec![
            ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "wJalrSECRET".to_owned()),
        ];
        let w = shell_only_warning(&vars).unwrap();
        assert!(
            w.contains("AWS_REGION, AWS_SECRET_ACCESS_KEY set only in this shell"),
            "{w}"
        );
        assert!(w.contains("\"AWS_REGION\": \"eu-west-1\""), "{w}");
        assert!(
            w.contains("\"AWS_SECRET_ACCESS_KEY\": \"<your aws secret access key>\""),
            "{w}"
        );
        assert!(!w.contains("wJalr"), "{w}");
    }

    #[test]
    fn names_and_quoting() {
        for name in CLIENT_NAMES {
            assert!(Client::parse(name).is_ok(), "{name}");
        }
        let e = Client::parse("emacs").unwrap_err();
        assert!(e.contains("claude-desktop, claude-code"), "{e}");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("C:\\x"), "'C:\\x'");
        assert_eq!(default_server_name(Some("aws-mcp")), "aws-mcp");
        assert_eq!(default_server_name(None), "mcp-sigv4");
    }
}
