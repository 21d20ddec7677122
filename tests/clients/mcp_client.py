"""Drives `pulldoctor mcp` with the official MCP Python SDK over stdio, as an assistant's client
would: initialize, list the tools, call each call given, and print what came back as one JSON
document on stdout. Usage: mcp_client.py CALLS_JSON COMMAND [ARGS...]; the server gets this
process's environment."""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError


async def main() -> None:
    calls = json.loads(sys.argv[1])
    server = StdioServerParameters(
        command=sys.argv[2], args=sys.argv[3:], env=dict(os.environ)
    )
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            results = []
            for call in calls:
                try:
                    result = await session.call_tool(call["name"], call.get("arguments", {}))
                except MCPError as e:
                    # Refused by the protocol (no such tool): said, not a crash of the client.
                    results.append({"name": call["name"], "protocolError": str(e)})
                    continue
                results.append(
                    {
                        "name": call["name"],
                        "isError": bool(result.is_error),
                        "structured": result.structured_content,
                        "text": [c.text for c in result.content if c.type == "text"],
                    }
                )
            print(
                json.dumps(
                    {
                        "server": init.server_info.name,
                        "tools": [
                            {
                                "name": t.name,
                                "description": t.description,
                                "inputSchema": t.input_schema,
                                "outputSchema": t.output_schema,
                            }
                            for t in tools.tools
                        ],
                        "results": results,
                    }
                )
            )


asyncio.run(main())
