"""Facts about Zed the kit depends on, and the code that writes into Zed.

Kept import-light: `zpa render` reads these constants on its fast path.
"""

# Zed's native agent tools (Zed stable 1.2x). A profile lists every one of
# them explicitly, so a new Zed tool never silently turns on for a role.
NATIVE_TOOLS: tuple[str, ...] = (
    "copy_path",
    "create_directory",
    "delete_path",
    "diagnostics",
    "edit_file",
    "fetch",
    "find_path",
    "grep",
    "list_directory",
    "move_path",
    "read_file",
    "skill",
    "spawn_agent",
    "terminal",
    "update_plan",
    "web_search",
    "write_file",
)

# Zed reads the FIRST of these at a worktree root and nothing else.
RULES_FILE_ORDER: tuple[str, ...] = (
    ".rules",
    ".cursorrules",
    ".windsurfrules",
    ".clinerules",
    ".github/copilot-instructions.md",
    "AGENT.md",
    "AGENTS.md",
    "CLAUDE.md",
    "GEMINI.md",
)
