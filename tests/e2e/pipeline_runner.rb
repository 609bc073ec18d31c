# encoding: utf-8
# Runs the INSTALLED plugin gem inside the logstash-core stand-in the way a pipeline does:
# new -> metric= -> execution_context -> register -> multi_receive from W worker threads ->
# close. The events are JSON-encoded by the stand-in's json codec.
#
#   GEM_PATH=<install dir>:/usr/share/rubygems-integration/all \
#     jruby tests/e2e/pipeline_runner.rb --config CONFIG.json [--events N] [--workers W] [--batch B]
#
# CONFIG.json holds the kinesis options (string keys, as in a pipeline config). Each event has
# a unique "id" ("<run>-<n>") and a "seq" (n). The last line printed is
#   RESULT {"events_in":N,"delivered":N,"failed":N,"dead_lettered":N,...}
# and the exit status is 0 only when every worker returned without an exception.
require "json"
require "optparse"

STANDIN_LIB = File.expand_path("../../ruby/spec/support/logstash_standin/lib", __dir__)
GEM_NAME = "logstash-output-kinesis".freeze
PLUGIN_ID = :kinesis_e2e
METRIC_PATH = [:stats, :pipelines, :main, :plugins, :outputs, PLUGIN_ID].freeze

options = { :events => 20_000, :workers => 4, :batch => 125, :run => "e2e", :message_bytes => 200 }
OptionParser.new do |parser|
  parser.banner = "Usage: pipeline_runner.rb --config FILE [options]"
  parser.on("--config FILE", "JSON file of kinesis options") { |v| options[:config] = v }
  parser.on("--events N", Integer, "events to generate") { |v| options[:events] = v }
  parser.on("--workers W", Integer, "worker threads") { |v| options[:workers] = v }
  parser.on("--batch B", Integer, "events per multi_receive call") { |v| options[:batch] = v }
  parser.on("--run NAME", "prefix of the event ids") { |v| options[:run] = v }
  parser.on("--message-bytes N", Integer, "size of each event's message field") { |v| options[:message_bytes] = v }
end.parse!
abort("pipeline_runner: --config is required") unless options[:config]
abort("pipeline_runner: --workers and --batch must be positive") unless options[:workers] > 0 && options[:batch] > 0

# The plugin comes from the installed gem, never from the source tree: find it without
# activating it (its runtime dependencies are provided by the stand-in, not installed).
spec = Gem::Specification.find_all_by_name(GEM_NAME).max_by(&:version)
abort("pipeline_runner: gem #{GEM_NAME} is not installed (GEM_PATH=#{ENV['GEM_PATH']})") unless spec
$LOAD_PATH.unshift(STANDIN_LIB)
$LOAD_PATH.unshift(*spec.full_require_paths)

require "java"
require "logstash-core"
require "logstash/event"
require "logstash-output-kinesis_jars"
require "logstash/outputs/kinesis"

plugin_file = $LOADED_FEATURES.find { |path| path.end_with?("/logstash/outputs/kinesis.rb") }
unless plugin_file && plugin_file.start_with?(spec.gem_dir)
  abort("pipeline_runner: plugin loaded from #{plugin_file.inspect}, not from #{spec.gem_dir}")
end
$stderr.puts("pipeline_runner: #{spec.full_name} from #{spec.gem_dir}")

params = JSON.parse(File.read(options[:config]))
params["id"] = PLUGIN_ID.to_s
plugin = LogStash::Outputs::Kinesis.new(params)
collector = LogStash::Instrument::Collector.new
plugin.metric = LogStash::Instrument::NamespacedMetric.new(collector, METRIC_PATH)
dead_letter_queue = LogStash::DeadLetterQueue.new
plugin.execution_context = LogStash::ExecutionContext.new(
  dlq_writer: LogStash::DeadLetterQueueWriter.new(dead_letter_queue, "output", PLUGIN_ID.to_s)
)
plugin.register

padding = "x" * options[:message_bytes]
next_seq = 0
seq_lock = Mutex.new
worker_errors = Queue.new
started = Process.clock_gettime(Process::CLOCK_MONOTONIC)

workers = Array.new(options[:workers]) do
  Thread.new do
    loop do
      first = seq_lock.synchronize do
        taken = next_seq
        next_seq += options[:batch]
        taken
      end
      break if first >= options[:events]
      last = [first + options[:batch], options[:events]].min
      batch = (first...last).map do |seq|
        LogStash::Event.new("id" => "#{options[:run]}-#{seq}", "seq" => seq, "message" => padding)
      end
      plugin.multi_receive(batch)
    end
  rescue Exception => e # rubocop:disable Lint/RescueException -- a worker must report, not vanish
    worker_errors << e
  end
end
workers.each(&:join)
sent_s = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
plugin.do_close
elapsed_s = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started

metric = ->(key) { collector.value(*METRIC_PATH, :kinesis, key) || 0 }
result = {
  "events_in" => [options[:events], 0].max,
  "delivered" => metric.call(:events_delivered),
  "failed" => metric.call(:events_failed),
  "dead_lettered" => metric.call(:events_dead_lettered),
  "dropped" => metric.call(:events_dropped),
  "retried" => metric.call(:events_retried),
  "handed_back" => metric.call(:events_handed_back),
  "dlq_entries" => dead_letter_queue.entries.size,
  "kinesis_records" => metric.call(:kinesis_records),
  "kinesis_requests" => metric.call(:kinesis_requests),
  "workers" => options[:workers],
  "batch" => options[:batch],
  "send_seconds" => sent_s.round(2),
  "total_seconds" => elapsed_s.round(2),
  "worker_errors" => worker_errors.size,
}

LogStash::Logging::Logger.all.flat_map(&:lines).each do |line|
  next unless [:warn, :error, :fatal].include?(line.level)
  $stderr.puts("log #{line.level}: #{line.message} #{line.data.inspect}")
end
until worker_errors.empty?
  error = worker_errors.pop
  $stderr.puts("worker error: #{error.class}: #{error.message}")
end
puts "RESULT #{JSON.generate(result)}"
exit(result["worker_errors"].zero? ? 0 : 1)
