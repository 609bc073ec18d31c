# Records/s from JRuby through the JNI bridge into the Kinesis test server (blackhole mode), for
# 200-byte records, per call pattern. Run with tests/jni/bench.sh (it builds and passes the paths).
#
#   jruby tests/jni/bench.rb JAR LIBRARY TEST_SERVER [SECONDS_PER_RUN]
#
# Each pattern runs three times; the median is reported. A run submits batches for a fixed time,
# keeping a window of batches in flight, then waits for every outcome: records/s counts records
# whose outcome arrived (all must be delivered). The per-shard rate limit is lifted (rate_limit),
# since the test server does not throttle and the point is the bridge's own cost.

require 'java'
require 'tmpdir'

jar, library, server_binary, seconds = ARGV
abort "usage: bench.rb JAR LIBRARY TEST_SERVER [SECONDS_PER_RUN]" unless server_binary
SECONDS_PER_RUN = Float(seconds || 4)
require jar
java_import 'kinesis.producer.bridge.NativeProducer'
NativeProducer.load(library)

RECORD_SIZE = 200
STREAM = 'bench'.freeze
# Events as a Logstash output sees them: distinct 200-byte strings, each with its partition key.
POOL = Array.new(4096) { |i| format("{\"n\":%08d,\"message\":\"%s\"}", i, 'x' * (RECORD_SIZE - 27)) }
KEYS = Array.new(4096) { |i| "host-#{i % 97}-#{i}" }
raise "record size #{POOL[0].bytesize}" unless POOL[0].bytesize == RECORD_SIZE

def start_server(binary)
  dir = Dir.mktmpdir('bench-server')
  port_file = File.join(dir, 'port')
  pid = Process.spawn(binary, '--port', '0', '--port-file', port_file, '--blackhole', '--stream', "#{STREAM}:8",
                      out: File::NULL, err: File::NULL)
  200.times do
    break if File.exist?(port_file)
    sleep 0.05
  end
  raise 'test server did not start' unless File.exist?(port_file)
  [pid, Integer(File.read(port_file).strip)]
end

# One packed batch of records [from, from + count) of the pool: one submit call.
def submit_packed(producer, from, count)
  payloads = Array.new(count) { |i| POOL[(from + i) & 4095] }
  keys = Array.new(count) { |i| KEYS[(from + i) & 4095] }
  producer.submit([STREAM].to_java(:string), nil,
                  keys.join.to_java_bytes, keys.map(&:bytesize).to_java(:int), nil,
                  payloads.join.to_java_bytes, payloads.map(&:bytesize).to_java(:int), 60_000)
end

STREAMS = [STREAM].to_java(:string)

# One record per submit call (the per-record pattern), still one batch id per call.
def submit_one(producer, index)
  key = KEYS[index & 4095]
  payload = POOL[index & 4095]
  producer.submit(STREAMS, nil, key.to_java_bytes, [key.bytesize].to_java(:int), nil,
                  payload.to_java_bytes, [payload.bytesize].to_java(:int), 60_000)
end

def finish(producer, batch)
  outcomes = producer.await_outcomes(batch, 120_000)
  raise "batch #{batch} incomplete" unless outcomes
  raise "#{outcomes.failed_count} records failed: #{outcomes.code(outcomes.failed_indexes[0])}" unless outcomes.all_delivered
  producer.release(batch)
  outcomes.size
end

# Submits batches of `batch_size` for the run time with up to `window` batches in flight.
def run(producer, batch_size, window)
  in_flight = []
  done = 0
  index = 0
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  stop_at = started + SECONDS_PER_RUN
  while Process.clock_gettime(Process::CLOCK_MONOTONIC) < stop_at
    batch = batch_size == 1 ? submit_one(producer, index) : submit_packed(producer, index, batch_size)
    raise 'producer full for 60 s' if batch < 0
    in_flight << batch
    index += batch_size
    done += finish(producer, in_flight.shift) if in_flight.size > window
  end
  in_flight.each { |b| done += finish(producer, b) }
  done / (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
end

pid, port = start_server(server_binary)
begin
  config = %({"region":"us-east-1","kinesis_endpoint":"http://127.0.0.1:#{port}","access_key":"AKIDBENCH",) +
           %("secret_key":"bench","metrics_level":"none","rate_limit":1000000})
  producer = NativeProducer.new(config)
  patterns = [
    ['one call per record (batch of 1)', 1, 20_000],
    ['packed batch of 50', 50, 400],
    ['packed batch of 500', 500, 40],
    ['packed batch of 5000', 5000, 4]
  ]
  run(producer, 500, 40) # warm-up: JIT and connections
  puts format('%-34s %14s   %s', 'pattern', 'records/s', 'runs')
  patterns.each do |name, size, window|
    runs = Array.new(3) { run(producer, size, window) }
    puts format('%-34s %14.0f   %s', name, runs.sort[1], runs.map { |r| r.round }.join(' / '))
  end
  producer.close(30_000)
ensure
  Process.kill('TERM', pid)
  Process.wait(pid)
end
