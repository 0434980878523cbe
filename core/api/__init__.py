"""ModelGov's HTTP API (issue 22): every CLI command over HTTP, for an identity a bearer token proves.

`endpoints` reads the endpoint table from the CLI's parsers and runs a command for a caller; `bearer` turns an
`Authorization: Bearer` header into an Identity (a ModelGov access token, or a JWT from the `[auth]` identity
provider); `server` is the Starlette application (`modelgov api serve`); `client` is the CLI's remote mode.
Starlette and uvicorn are imported only by `server`, so core and the CLI load without them.
"""
