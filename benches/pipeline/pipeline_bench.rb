# encoding: utf-8
# Pipeline benchmark cases in one JVM: W worker threads hand batches of B events to an output,
# the way a Logstash pipeline does, for a fixed time, and each case prints one line
#   RESULT {"output":..., "events_per_sec":..., "cpu_us_per_event":..., ...}
#
# output "kinesis": the INSTALLED plugin gem inside the logstash-core stand-in (json codec), with
#                   the kinesis options of --config (plus the case's "delivery");
# output "codec":   only the json codec (multi_encode of each batch): the baseline.
# output "least":   the codec plus the least any output has to do in Ruby with these options
#                   before a producer's own work: each event's partition key read from its field
#                   and stored in [@metadata][partition_key] (as the old gem does), and each
#                   batch's keys and payloads copied out of Ruby into Java arrays.
#
#   GEM_PATH=<install dir>:/usr/share/rubygems-integration/all jruby benches/pipeline/pipeline_bench.rb \
#     --config CONFIG.json --cases '[{"output":"codec","workers":4,"batch":125,"event_bytes":200}, ...]' \
#     [--seconds 8] [--warmup 60] [--thread-cpu]
#
# A JVM runs JRuby code slowly until its JIT compilers are done, which takes far longer than a
# short warm-up (about a million events here), so every case type first runs for --warmup
# seconds in total; then the cases run in the order given, each with its own plugin instance
# and a short warm-up of its own. Events come from per-worker pools created before the clock
# starts (a pipeline's output receives events that exist already), so the CPU measured is the
# output's, plus the workers' loop. Run by benches/run.sh pipeline and benches/run.sh rtt.
require "json"
require "optparse"

STANDIN_LIB = File.expand_path("../../ruby/spec/support/logstash_standin/lib", __dir__)
GEM_NAME = "logstash-output-kinesis".freeze
PLUGIN_ID = "kinesis_bench".freeze
CASE_WARMUP_SECONDS = 2.0

options = { :seconds => 8.0, :warmup => 60.0 }
OptionParser.new do |parser|
  parser.banner = "Usage: pipeline_bench.rb --cases JSON [--config FILE] [options]"
  parser.on("--config FILE", "JSON file of kinesis options") { |v| options[:config] = v }
  parser.on("--cases JSON", "the cases: [{output, workers, batch, event_bytes, delivery}, ...]") { |v| options[:cases] = v }
  parser.on("--seconds S", Float, "measured time per case") { |v| options[:seconds] = v }
  parser.on("--warmup S", Float, "JIT warm-up before the first case, shared by the case types") { |v| options[:warmup] = v }
  parser.on("--thread-cpu", "also report the measured CPU per thread name") { options[:thread_cpu] = true }
end.parse!
abort("pipeline_bench: --cases is required") unless options[:cases]
CASES = JSON.parse(options[:cases])
if CASES.any? { |c| c["output"] == "kinesis" } && !options[:config]
  abort("pipeline_bench: --config is required for kinesis cases")
end

spec = Gem::Specification.find_all_by_name(GEM_NAME).max_by(&:version)
abort("pipeline_bench: gem #{GEM_NAME} is not installed (GEM_PATH=#{ENV['GEM_PATH']})") unless spec
$LOAD_PATH.unshift(STANDIN_LIB)
$LOAD_PATH.unshift(*spec.full_require_paths)

require "java"
require "logstash-core"
require "logstash/event"
require "logstash/codecs/json"
require "logstash-output-kinesis_jars"
require "logstash/outputs/kinesis"

BASE_OPTIONS = options[:config] ? JSON.parse(File.read(options[:config])) : {}
KEY_FIELD = (BASE_OPTIONS["event_partition_keys"] || ["id"]).first
METADATA_KEY = "[@metadata][partition_key]".freeze
CODEC = LogStash::Codecs::JSON.new({})

# User + system CPU seconds of this process (every thread, the native engine's included).
def cpu_seconds
  fields = File.read("/proc/self/stat").split(")").last.split
  (fields[11].to_i + fields[12].to_i) / 100.0
end

# CPU seconds per thread name (digits dropped, so "worker-3" counts as "worker-#").
def thread_cpu_seconds
  Dir.glob("/proc/self/task/*").each_with_object(Hash.new(0.0)) do |task, totals|
    begin
      name = File.read(File.join(task, "comm")).strip.gsub(/\d+/, "#")
      fields = File.read(File.join(task, "stat")).split(")").last.split
      totals[name] += (fields[11].to_i + fields[12].to_i) / 100.0
    rescue SystemCallError
      next # the thread ended meanwhile
    end
  end
end

# CPU seconds of the calling thread.
def own_cpu_seconds
  fields = File.read("/proc/thread-self/stat").split(")").last.split
  (fields[11].to_i + fields[12].to_i) / 100.0
end

def monotonic
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def percentile(sorted, p)
  sorted.empty? ? nil : sorted[((sorted.size - 1) * p).floor]
end

# One case: its event pools, its output (a registered plugin or the codec) and its figures.
class BenchCase
  attr_reader :spec

  def initialize(spec)
    @spec = { "workers" => 4, "batch" => 125, "event_bytes" => 200 }.merge(spec)
    @kinesis = @spec["output"] == "kinesis"
    @plugin = open_plugin if @kinesis
    @pool_size = [batch * 4, 2048].max
    @pools = build_pools
  end

  def batch
    @spec["batch"]
  end

  def workers
    @spec["workers"]
  end

  # Runs the workers for `seconds`; returns [events, batch latencies in ms, the workers' CPU seconds].
  def run_phase(seconds)
    stop_at = monotonic + seconds
    threads = Array.new(workers) do |w|
      Thread.new do
        events = 0
        latencies = []
        cpu_start = own_cpu_seconds
        while monotonic < stop_at
          first = events % (@pool_size - batch + 1)
          slice = @pools[w][first, batch]
          started = monotonic
          deliver(slice)
          latencies << (monotonic - started) * 1000.0
          events += slice.size
        end
        [events, latencies, own_cpu_seconds - cpu_start]
      end
    end
    results = threads.map(&:value)
    [results.sum { |r| r[0] }, results.flat_map { |r| r[1] }, results.sum { |r| r[2] }]
  end

  # Measures `seconds` after the case's own short warm-up; returns the RESULT row.
  def measure(seconds, thread_cpu)
    run_phase(CASE_WARMUP_SECONDS)
    drain
    engine_before = engine_totals
    threads_before = thread_cpu ? thread_cpu_seconds : {}
    cpu_before = cpu_seconds
    started = monotonic
    events, latencies, worker_cpu = run_phase(seconds)
    drain
    elapsed = monotonic - started
    cpu = cpu_seconds - cpu_before
    row = figures(events, elapsed, cpu, worker_cpu, latencies.sort)
    row["thread_cpu"] = thread_delta(threads_before, thread_cpu_seconds) if thread_cpu
    row.merge!(engine_figures(engine_before, engine_totals)) if @kinesis
    row
  end

  def close
    @plugin.do_close if @plugin
  end

  private

  def deliver(slice)
    case @spec["output"]
    when "kinesis" then @plugin.multi_receive(slice)
    when "least" then hand_over(slice)
    else CODEC.multi_encode(slice)
    end
  end

  # The "least" output: key, metadata and one copy of each batch into Java arrays.
  def hand_over(slice)
    keys = String.new(encoding: Encoding::BINARY)
    payloads = String.new(encoding: Encoding::BINARY)
    key_lengths = Array.new(slice.size)
    payload_lengths = Array.new(slice.size)
    slice_keys = slice.map do |event|
      key = "-#{event.get(KEY_FIELD)}"
      event.set(METADATA_KEY, key)
      key
    end
    CODEC.multi_encode(slice).each_with_index do |(_event, payload), i|
      key = slice_keys[i]
      keys << key
      key_lengths[i] = key.bytesize
      payloads << payload
      payload_lengths[i] = payload.bytesize
    end
    [keys.to_java_bytes, key_lengths.to_java(:int), payloads.to_java_bytes, payload_lengths.to_java(:int)]
  end

  def delivery
    @spec["delivery"] || "at_least_once"
  end

  def open_plugin
    params = BASE_OPTIONS.merge("id" => PLUGIN_ID, "delivery" => delivery)
    plugin = LogStash::Outputs::Kinesis.new(params)
    collector = LogStash::Instrument::Collector.new
    plugin.metric = LogStash::Instrument::NamespacedMetric.new(collector, [:stats, :pipelines, :main, :plugins, :outputs])
    plugin.execution_context = LogStash::ExecutionContext.new(
      dlq_writer: LogStash::DeadLetterQueueWriter.new(LogStash::DeadLetterQueue.new, "output", PLUGIN_ID)
    )
    plugin.register
    plugin
  end

  # One pool per worker (the plugin sets a field of each event it routes, so no event is shared);
  # the message field pads each event's JSON to event_bytes.
  def build_pools
    new_event = ->(n, message) { LogStash::Event.new("id" => "bench-#{n}", "seq" => n, "host" => "bench-host", "message" => message) }
    overhead = CODEC.multi_encode([new_event.call(0, "")]).first.last.bytesize
    padding = "x" * [@spec["event_bytes"] - overhead, 1].max
    Array.new(workers) { |w| Array.new(@pool_size) { |i| new_event.call(w * @pool_size + i, padding) } }
  end

  def producer
    @plugin && @plugin.instance_variable_get(:@producer)
  end

  # Waits until the producer holds nothing (at_most_once returns before delivery).
  def drain
    return unless producer
    sleep 0.005 until producer.outstanding.first.zero?
  end

  def engine_totals
    producer ? producer.metrics : {}
  end

  def figures(events, elapsed, cpu, worker_cpu, latencies)
    {
      "output" => @spec["output"],
      "delivery" => @kinesis ? delivery : nil,
      "workers" => workers,
      "batch" => batch,
      "event_bytes" => @spec["event_bytes"],
      "record_bytes" => CODEC.multi_encode([@pools[0][0]]).first.last.bytesize,
      "events" => events,
      "seconds" => elapsed.round(3),
      "events_per_sec" => (events / elapsed).round,
      "cpu_us_per_event" => (cpu * 1e6 / events).round(3),
      "worker_cpu_us_per_event" => (worker_cpu * 1e6 / events).round(3),
      "p50_batch_ms" => percentile(latencies, 0.5)&.round(2),
      "p99_batch_ms" => percentile(latencies, 0.99)&.round(2),
    }
  end

  def engine_figures(before, after)
    delta = ->(metric, statistic) { (after.dig(metric, statistic) || 0) - (before.dig(metric, statistic) || 0) }
    kinesis_records = delta.call("KinesisRecordsPut", "sum")
    user_records = delta.call("UserRecordsPut", "sum")
    data_bytes = delta.call("KinesisRecordsDataPut", "sum")
    aggregation_max_size = (BASE_OPTIONS["aggregation_max_size"] || 51_200).to_f
    {
      "user_records_put" => user_records.round,
      "kinesis_records_per_user_record" => user_records > 0 ? (kinesis_records / user_records).round(5) : nil,
      "aggregate_fill" => kinesis_records > 0 ? (data_bytes / kinesis_records / aggregation_max_size).round(4) : nil,
      "requests" => delta.call("RequestTime", "count"),
    }
  end

  def thread_delta(before, after)
    after.map { |name, seconds| [name, (seconds - before[name]).round(2)] }
         .select { |_, seconds| seconds > 0 }.sort_by { |_, seconds| -seconds }.to_h
  end
end

# JIT warm-up: each distinct kind of case (output, delivery, event size) in turn.
kinds = CASES.map { |c| c.reject { |k, _| %w[workers batch].include?(k) } }.uniq
unless kinds.empty? || options[:warmup] <= 0
  started = monotonic
  kinds.each do |kind|
    bench = BenchCase.new(kind)
    bench.run_phase(options[:warmup] / kinds.size)
    bench.close
  end
  $stderr.puts("pipeline_bench: warm-up of #{kinds.size} case kind(s) took #{(monotonic - started).round(1)} s")
end

CASES.each_with_index do |spec, index|
  bench = BenchCase.new(spec)
  row = bench.measure(options[:seconds], options[:thread_cpu])
  bench.close
  puts "RESULT #{JSON.generate(row.merge('case' => index))}"
  $stdout.flush
end
