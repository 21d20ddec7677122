"""Drives `pulldoctor mcp` with the official MCP Python SDK over stdio, as an assistant's client
would: initialize, list the tools, call each call given, and print what came back as one JSON
document on stdout. Usage: mcp_client.py CALLS_JSON COMMAND [ARGS...]; the server gets this
process's environment.

The report schema resource is read too; each report file named in MCP_REPORTS (separated by the
path separator) is validated against it with `jsonschema` (a dependency of the SDK), and the
errors found are printed under `reportErrors`."""

import asyncio
import json
import os
import sys

import jsonschema

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
            resources = await session.list_resources()
            schemas = [r for r in resources.resources if r.mime_type == "application/schema+json"]
            schema = None
            if schemas:
                read = await session.read_resource(schemas[0].uri)
                schema = json.loads(read.contents[0].text)
            try:
                await session.read_resource("pulldoctor://nothing")
                unknown_resource = None
            except MCPError as e:
                unknown_resource = str(e)
            print(
                json.dumps(
                    {
                        "server": init.server_info.name,
                        "resources": [
                            {"uri": str(r.uri), "name": r.name, "mimeType": r.mime_type}
                            for r in resources.resources
                        ],
                        "schema": schema,
                        "unknownResource": unknown_resource,
                        "reportErrors": report_errors(schema),
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


def report_errors(schema):
    """Each MCP_REPORTS file's validation errors against `schema` (2020-12)."""
    if schema is None:
        return None
    validator = jsonschema.Draft202012Validator(schema)
    files = [f for f in os.environ.get("MCP_REPORTS", "").split(os.pathsep) if f]
    errors = {}
    for path in files:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        errors[path] = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(report)
        ]
    return errors


asyncio.run(main())
