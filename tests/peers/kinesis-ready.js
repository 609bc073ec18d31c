// Waits until a freshly started kinesis-mock answers plain-HTTP Kinesis calls
// and all of its initial streams are ACTIVE, then prints the plain-HTTP port.
//
// Usage: node kinesis-ready.js --pid PID --ports-file FILE --timeout-ms N
//                              --region REGION [--streams name[:shards[:region]],...]
//
// kinesis-mock opens a TLS and a plain port; both are chosen by the OS and
// listed in FILE (see loopback.js). The plain one is the port that answers
// an HTTP request. Exit codes: 0 ready, 1 timeout, 2 usage, 3 process exited.
'use strict';

const fs = require('fs');
const http = require('http');

function parseArgs(argv) {
  const args = { streams: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (!key.startsWith('--') || value === undefined) {
      usage(`bad argument '${key}'`);
    }
    args[key.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = value;
  }
  for (const required of ['pid', 'portsFile', 'timeoutMs', 'region']) {
    if (!args[required]) usage(`missing --${required}`);
  }
  return args;
}

function usage(message) {
  process.stderr.write(`kinesis-ready: ${message}\n`);
  process.exit(2);
}

// INITIALIZE_STREAMS syntax: name[:shards[:region]], comma separated.
function parseStreams(spec, defaultRegion) {
  return spec.split(',').filter((s) => s.length > 0).map((entry) => {
    const [name, , region] = entry.split(':');
    return { name, region: region || defaultRegion };
  });
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// kinesis-mock requires an Authorization header but does not verify the
// signature; the region in the credential scope selects the stream namespace.
function kinesisCall(port, region, operation, body) {
  const payload = JSON.stringify(body);
  const headers = {
    'Content-Type': 'application/x-amz-json-1.1',
    'X-Amz-Target': `Kinesis_20131202.${operation}`,
    'Content-Length': Buffer.byteLength(payload),
    'X-Amz-Date': new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, ''),
    Authorization: `AWS4-HMAC-SHA256 Credential=readiness/20260101/${region}/kinesis/aws4_request, ` +
      'SignedHeaders=content-type;host;x-amz-target, Signature=0',
  };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, timeout: 2000 }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          const err = new Error(`${operation} on port ${port}: HTTP ${res.statusCode} ${text}`);
          err.httpAnswered = true;
          reject(err);
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch (err) {
          reject(new Error(`${operation} on port ${port}: not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${operation} on port ${port}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function readPorts(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
  } catch (err) {
    return [];
  }
}

// The plain port is the one that answers HTTP at all (even with an error:
// the caller then reports that error rather than waiting silently). Ports
// are probed in parallel because the TLS port just waits for a handshake.
function findPlainPort(ports, region) {
  return new Promise((resolve) => {
    let pending = ports.length;
    for (const port of ports) {
      kinesisCall(port, region, 'ListStreams', {})
        .then(() => true, (err) => Boolean(err.httpAnswered))
        .then((answered) => {
          pending -= 1;
          if (answered) resolve(port);
          else if (pending === 0) resolve(null);
        });
    }
  });
}

async function streamsActive(port, streams, region) {
  if (streams.length === 0) {
    await kinesisCall(port, region, 'ListStreams', {});
  }
  for (const stream of streams) {
    const answer = await kinesisCall(port, stream.region, 'DescribeStreamSummary', { StreamName: stream.name });
    const status = answer.StreamDescriptionSummary && answer.StreamDescriptionSummary.StreamStatus;
    if (status !== 'ACTIVE') {
      throw new Error(`stream ${stream.name} (${stream.region}) is ${status}`);
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const pid = Number(args.pid);
  const deadline = Date.now() + Number(args.timeoutMs);
  const streams = parseStreams(args.streams, args.region);
  let lastProblem = 'no port reported yet';
  let port = null;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      process.stderr.write(`kinesis-ready: process ${pid} exited\n`);
      process.exit(3);
    }
    const ports = port === null ? readPorts(args.portsFile) : [port];
    if (port === null && ports.length > 0) {
      port = await findPlainPort(ports, args.region);
    }
    if (port !== null) {
      try {
        await streamsActive(port, streams, args.region);
        process.stdout.write(`${port}\n`);
        return;
      } catch (err) {
        lastProblem = err.message;
      }
    } else if (ports.length > 0) {
      lastProblem = `no plain-HTTP answer on ports ${ports.join(', ')}`;
    }
    await sleep(50);
  }
  process.stderr.write(`kinesis-ready: not ready in ${args.timeoutMs} ms: ${lastProblem}\n`);
  process.exit(1);
}

main().catch((err) => {
  process.stderr.write(`kinesis-ready: ${err.stack || err}\n`);
  process.exit(1);
});
