// Preloaded with `node -r` so that a test peer which listens on all
// interfaces binds to 127.0.0.1 only: every TCP listen() gets its host
// rewritten before the socket is bound.
//
// If LOOPBACK_LISTEN_REPORT names a file, the port of every socket that
// starts listening is appended to it (one per line), so the caller can let
// the OS choose free ports (port 0) and discover them without a race.
'use strict';

const fs = require('fs');
const net = require('net');

const LOOPBACK = '127.0.0.1';
const reportFile = process.env.LOOPBACK_LISTEN_REPORT;
const originalListen = net.Server.prototype.listen;

// A numeric first argument (or none) means TCP; a non-numeric string is a
// Unix socket path and is left alone.
function isTcpPort(value) {
  return value === undefined || value === null || typeof value === 'number' ||
    (typeof value === 'string' && /^\d+$/.test(value));
}

function forceLoopback(args) {
  const [first] = args;
  if (first !== null && typeof first === 'object') {
    // listen(options[, cb]): only options with a port are TCP; a handle or fd
    // is already bound and cannot be changed here.
    if ('port' in first || !('path' in first || 'fd' in first || 'handle' in first || '_handle' in first)) {
      return [{ ...first, host: LOOPBACK }, ...args.slice(1)];
    }
    return args;
  }
  if (typeof first === 'function') {
    return [{ port: 0, host: LOOPBACK }, ...args];
  }
  if (!isTcpPort(first)) {
    return args;
  }
  const port = first === undefined || first === null ? 0 : first;
  if (typeof args[1] === 'string') {
    return [port, LOOPBACK, ...args.slice(2)];
  }
  // listen(port[, backlog][, cb]): the host goes in second place.
  return [port, LOOPBACK, ...args.slice(1)];
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  if (reportFile) {
    this.once('listening', () => {
      const address = this.address();
      if (address && typeof address === 'object') {
        fs.appendFileSync(reportFile, `${address.port}\n`);
      }
    });
  }
  return originalListen.apply(this, forceLoopback(args));
};
