/**
 * Get the HTTP headers of a URL (the seeds' "Get HTTP headers"): sends a
 * HEAD request with openConnection (TLS for https) and prints each header
 * line read with readline().
 *
 *     node build/examples/http_headers.js http://example.com/path/page.html
 *     node build/examples/http_headers.js https://example.com/
 */
import * as asyncio from "asyncio-ts";

export function* printHttpHeaders(address: string): asyncio.Coroutine<string[]> {
  const url = new URL(address);
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const [reader, writer] = yield* asyncio.openConnection(hostname, port, { ssl: url.protocol === "https:" });
  const query = `HEAD ${url.pathname || "/"} HTTP/1.0\r\nHost: ${url.hostname}\r\n\r\n`;
  writer.write(Buffer.from(query, "latin1"));
  const headers: string[] = [];
  for (;;) {
    const line = yield* reader.readline();
    if (line.length === 0) break;
    const header = line.toString("latin1").trimEnd();
    if (header !== "") {
      console.log(`HTTP header> ${header}`);
      headers.push(header);
    }
  }
  // Ignore the body, close the socket
  writer.close();
  yield* writer.waitClosed();
  return headers;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.argv[2];
  if (url === undefined) {
    console.error("usage: node build/examples/http_headers.js URL");
    process.exit(2);
  }
  await asyncio.run(printHttpHeaders(url));
}
