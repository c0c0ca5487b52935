//! Runnable Python for the agent frameworks (`mcp-sigv4 config strands|
//! langchain|openai-agents|llamaindex …`).
//!
//! Owns: one short program per framework that starts this binary over stdio
//! in the shape that framework's documentation gives, lists the tools and
//! prints their names. Each passes the AWS variables through `env`
//! explicitly: the MCP Python SDK's stdio client, which all four use, starts
//! the server with only a few variables of its own (`HOME`, `PATH`, …) plus
//! the `env` given, so without them the relay would not see the profile,
//! region, keys, container credentials, CA bundle or proxy. Each sets a
//! request timeout above the framework's default where that is short
//! (OpenAI Agents: 5 s), and says where the framework starts a new process
//! per call. Pure: the caller supplies the command path and the arguments.
//! Refuses: writing any value of those variables into the program (it reads
//! them from `os.environ` when it runs).

/// The variables each program passes through when set: profile, region,
/// shared files, keys, web identity and container credentials, CA bundle,
/// proxies.
pub const PASSED_THROUGH: [&str; 21] = [
    "AWS_PROFILE",
    "AWS_MCP_PROXY_PROFILES",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CA_BUNDLE",
    "AWS_EC2_METADATA_DISABLED",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// An agent framework we print a program for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    /// Strands Agents: `MCPClient` over `stdio_client(StdioServerParameters(…))`.
    Strands,
    /// LangChain: `langchain-mcp-adapters`' `MultiServerMCPClient`, `"transport": "stdio"`.
    LangChain,
    /// OpenAI Agents SDK: `MCPServerStdio(params=…)`.
    OpenAiAgents,
    /// LlamaIndex: `llama-index-tools-mcp`'s `BasicMCPClient`.
    LlamaIndex,
}

impl Framework {
    /// The framework named `name` (`strands`, `langchain`, `openai-agents`,
    /// `llamaindex`, a few spellings each), or `None`.
    pub fn parse(name: &str) -> Option<Framework> {
        Some(match name.to_ascii_lowercase().as_str() {
            "strands" | "strands-agents" => Framework::Strands,
            "langchain" | "langgraph" | "langchain-mcp-adapters" => Framework::LangChain,
            "openai-agents" | "openai" | "openai-agents-sdk" => Framework::OpenAiAgents,
            "llamaindex" | "llama-index" => Framework::LlamaIndex,
            _ => return None,
        })
    }

    /// The PyPI packages the program needs.
    pub fn packages(self) -> &'static str {
        match self {
            Framework::Strands => "strands-agents",
            Framework::LangChain => "langchain-mcp-adapters",
            Framework::OpenAiAgents => "openai-agents",
            Framework::LlamaIndex => "llama-index-tools-mcp",
        }
    }

    /// What to do with the program (stderr).
    pub fn location(self) -> String {
        format!(
            "save as a .py file and run it with Python where `pip install {}` is done; it lists the server's tools. Hand the tools to your agent as the framework's documentation shows",
            self.packages()
        )
    }

    /// The program for server `name` started as `command args…`. Strings go
    /// in as JSON string literals, which Python reads the same.
    pub fn render(self, name: &str, command: &str, args: &[String]) -> String {
        let q = |s: &str| serde_json::to_string(s).expect("a string serializes");
        let list = format!(
            "[{}]",
            args.iter().map(|a| q(a)).collect::<Vec<_>>().join(", ")
        );
        let names = PASSED_THROUGH
            .iter()
            .map(|v| format!("    {},\n", q(v)))
            .collect::<String>();
        let prelude = format!(
            "import os\n\nCOMMAND = {command}\nARGS = {list}\n# The MCP stdio client starts the server with only a few variables of its\n# own: pass the AWS ones explicitly.\nAWS_ENV = {{\n    name: os.environ[name]\n    for name in (\n{names}    )\n    if name in os.environ\n}}\n",
            command = q(command),
        );
        let name = q(name);
        let body = match self {
            // https://strandsagents.com/latest/documentation/docs/user-guide/concepts/tools/mcp-tools/
            // (MCPClient(lambda: stdio_client(StdioServerParameters(...))),
            // used as a context manager; startup_timeout defaults to 30 s).
            Framework::Strands => format!(
                "\nfrom mcp import StdioServerParameters, stdio_client\nfrom strands.tools.mcp import MCPClient\n\n# One mcp-sigv4 process for as long as the `with` block runs.\nclient = MCPClient(\n    lambda: stdio_client(\n        StdioServerParameters(command=COMMAND, args=ARGS, env=AWS_ENV)\n    ),\n    startup_timeout=60,\n)\n\nwith client:\n    tools = client.list_tools_sync()\n    print({name}, [t.tool_name for t in tools])\n    # Agent(tools=tools) uses them while the block runs.\n"
            ),
            // https://github.com/langchain-ai/langchain-mcp-adapters (README:
            // MultiServerMCPClient({...: {"command", "args", "transport":
            // "stdio"}}); client.session(name) keeps one session).
            Framework::LangChain => format!(
                "\nimport asyncio\n\nfrom langchain_mcp_adapters.client import MultiServerMCPClient\nfrom langchain_mcp_adapters.tools import load_mcp_tools\n\nclient = MultiServerMCPClient(\n    {{\n        {name}: {{\n            \"transport\": \"stdio\",\n            \"command\": COMMAND,\n            \"args\": ARGS,\n            \"env\": AWS_ENV,\n        }}\n    }}\n)\n\n\nasync def main():\n    # client.get_tools() alone starts a new mcp-sigv4 process (and MCP\n    # session) for every tool call; one session keeps one process.\n    async with client.session({name}) as session:\n        tools = await load_mcp_tools(session)\n        print({name}, [t.name for t in tools])\n\n\nasyncio.run(main())\n"
            ),
            // https://openai.github.io/openai-agents-python/mcp/ (MCPServerStdio(
            // params={"command", "args", "env"}); client_session_timeout_seconds
            // defaults to 5 s, short for a signed call to AWS).
            Framework::OpenAiAgents => format!(
                "\nimport asyncio\n\nfrom agents.mcp import MCPServerStdio\n\n\nasync def main():\n    async with MCPServerStdio(\n        name={name},\n        params={{\"command\": COMMAND, \"args\": ARGS, \"env\": AWS_ENV}},\n        # The default, 5 s, is short for a first signed call to AWS.\n        client_session_timeout_seconds=60,\n        cache_tools_list=True,\n    ) as server:\n        tools = await server.list_tools()\n        print({name}, [t.name for t in tools])\n        # Agent(mcp_servers=[server]) uses it while the block runs.\n\n\nasyncio.run(main())\n"
            ),
            // https://docs.llamaindex.ai/en/stable/api_reference/tools/mcp/
            // (BasicMCPClient(command, args=..., env=..., timeout=...);
            // McpToolSpec(client=...).to_tool_list_async()).
            Framework::LlamaIndex => format!(
                "\nimport asyncio\n\nfrom llama_index.tools.mcp import BasicMCPClient, McpToolSpec\n\n# BasicMCPClient starts a new mcp-sigv4 process (and MCP session) for each\n# call it makes: fine for a few calls; for many, keep one client session.\nclient = BasicMCPClient(COMMAND, args=ARGS, env=AWS_ENV, timeout=120)\n\n\nasync def main():\n    tools = await McpToolSpec(client=client).to_tool_list_async()\n    print({name}, [t.metadata.name for t in tools])\n\n\nasyncio.run(main())\n"
            ),
        };
        format!(
            "# MCP server {name} through mcp-sigv4, for {} (pip install {}).\n{prelude}{body}",
            match self {
                Framework::Strands => "Strands Agents",
                Framework::LangChain => "LangChain",
                Framework::OpenAiAgents => "the OpenAI Agents SDK",
                Framework::LlamaIndex => "LlamaIndex",
            },
            self.packages()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_program_passes_the_aws_variables_and_quotes_its_strings() {
        let args = vec![
            "https://x.example/mcp?a=1&b=\"2\"".to_owned(),
            "--profile".to_owned(),
            "dev".to_owned(),
        ];
        for f in [
            Framework::Strands,
            Framework::LangChain,
            Framework::OpenAiAgents,
            Framework::LlamaIndex,
        ] {
            let p = f.render("aws", "C:\\bin\\mcp-sigv4.exe", &args);
            assert!(
                p.contains("COMMAND = \"C:\\\\bin\\\\mcp-sigv4.exe\""),
                "{p}"
            );
            assert!(
                p.contains(
                    "ARGS = [\"https://x.example/mcp?a=1&b=\\\"2\\\"\", \"--profile\", \"dev\"]"
                ),
                "{p}"
            );
            for v in PASSED_THROUGH {
                assert!(p.contains(&format!("\"{v}\",")), "{v} in {p}");
            }
            assert!(p.contains("AWS_ENV"), "{p}");
        }
        let openai = Framework::OpenAiAgents.render("aws", "/bin/m", &args);
        assert!(
            openai.contains("client_session_timeout_seconds=60"),
            "{openai}"
        );
        assert!(
            Framework::LangChain
                .render("aws", "/bin/m", &args)
                .contains("client.session(")
        );
        assert_eq!(
            Framework::parse("OpenAI-Agents"),
            Some(Framework::OpenAiAgents)
        );
        assert_eq!(Framework::parse("emacs"), None);
    }
}
