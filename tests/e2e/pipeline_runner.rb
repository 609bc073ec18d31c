# encoding: utf-8
# Runs the INSTALLED plugin gem inside the logstash-core stand-in the way a pipeline does:
# new -> metric= -> execution_context -> register -> multi_receive from W worker threads ->
# close. The events are encoded by the configured codec (json by default).
#
#   GEM_PATH=<install dir>:/usr/share/rubygems-integration/all \
#     jruby tests/e2e/pipeline_runner.rb --config CONFIG.json [options]
#
# CONFIG.json holds the kinesis options (string keys, as in a pipeline config); a "codec" of
# the form {"plain": {"format": "%{body}"}} is built as that codec. Each event has a unique
# "id" ("<run>-<seq>") and a "seq", unless --mix gives other fields. The last line printed is
#   RESULT {"events_in":N,"delivered":N,"failed":N,"dead_lettered":N,...}
# and the exit status is 0 only when every worker returned without an exception (a batch
# handed back at shutdown with AbortedBatchException is not an error).
#
# For crash and shutdown tests: --acked-log records each batch whose multi_receive returned
# (fsynced before the next step), --replay leaves those out (a persistent queue after a
# restart), --dlq writes dead letters to a file, SIGTERM shuts the pipeline down the way
# Logstash does (no new batches, shutdown requested, then close).
require "json"
require "optparse"
require_relative "installed_gem"
require_relative "runner/acked_log"
require_relative "runner/event_source"
require_relative "runner/file_dead_letter_queue"
require_relative "runner/process_sampler"

PLUGIN_ID = :kinesis_e2e
METRIC_PATH = [:stats, :pipelines, :main, :plugins, :outputs, PLUGIN_ID].freeze

options = { :events => 20_000, :workers => 4, :batch => 125, :run => "e2e", :message_bytes => 200,
            :rate => 0, :sample_ms => 500 }
OptionParser.new do |parser|
  parser.banner = "Usage: pipeline_runner.rb --config FILE [options]"
  parser.on("--config FILE", "JSON file of kinesis options") { |v| options[:config] = v }
  parser.on("--events N", Integer, "events to generate (seq 0..N-1)") { |v| options[:events] = v }
  parser.on("--duration S", Float, "generate events for S seconds instead of --events") { |v| options[:duration] = v }
  parser.on("--rate R", Float, "events per second over all workers (default: no limit)") { |v| options[:rate] = v }
  parser.on("--workers W", Integer, "worker threads") { |v| options[:workers] = v }
  parser.on("--batch B", Integer, "events per multi_receive call") { |v| options[:batch] = v }
  parser.on("--run NAME", "prefix of the event ids") { |v| options[:run] = v }
  parser.on("--message-bytes N", Integer, "size of each event's message field") { |v| options[:message_bytes] = v }
  parser.on("--mix FILE", "Ruby file defining RunnerMix.fields(seq, id, padding)") { |v| options[:mix] = v }
  parser.on("--acked-log FILE", "append the seqs of every returned batch, fsynced") { |v| options[:acked_log] = v }
  parser.on("--replay", "skip the seqs already in --acked-log") { options[:replay] = true }
  parser.on("--dlq FILE", "dead letter queue on, entries appended to FILE ('off': DLQ off)") { |v| options[:dlq] = v }
  parser.on("--samples FILE", "append RSS, threads, fds, CPU as JSON lines") { |v| options[:samples] = v }
  parser.on("--sample-ms N", Integer, "sampling interval (default 500)") { |v| options[:sample_ms] = v }
  parser.on("--log FILE", "write every log line as JSON at the end") { |v| options[:log] = v }
  parser.on("--ready-file FILE", "write the pid to FILE once register returned and SIGTERM is handled") { |v| options[:ready_file] = v }
  parser.on("--hand-back", "Logstash 8.8+: AbortedBatchException exists") { options[:hand_back] = true }
  parser.on("--engine-log FILE", "log4j2 on the class path, the native producer's DEBUG log to FILE") do |v|
    options[:engine_log] = v
  end
end.parse!
abort("pipeline_runner: --config is required") unless options[:config]
abort("pipeline_runner: --workers and --batch must be positive") unless options[:workers] > 0 && options[:batch] > 0
abort("pipeline_runner: --replay needs --acked-log") if options[:replay] && !options[:acked_log]
options[:events] = nil if options[:duration]

# Logstash ships log4j2: with it, the bridge forwards the native producer's log (Debian's jars).
def enable_engine_log(path)
  config = "#{path}.log4j2.properties"
  File.write(config, <<~PROPERTIES)
    status = error
    appender.file.type = File
    appender.file.name = file
    appender.file.fileName = #{path}
    appender.file.layout.type = PatternLayout
    appender.file.layout.pattern = %p %c %m%n
    rootLogger.level = debug
    rootLogger.appenderRef.file.ref = file
  PROPERTIES
  java.lang.System.setProperty("log4j.configurationFile", config)
  %w[/usr/share/java/log4j-api.jar /usr/share/java/log4j-core.jar].each { |jar| require jar }
end

require "java"
enable_engine_log(options[:engine_log]) if options[:engine_log]
spec = InstalledGem.load!(hand_back: options[:hand_back])
$stderr.puts("pipeline_runner: #{spec.full_name} from #{spec.gem_dir}")
load(options[:mix]) if options[:mix]

# The plugin's params from the config file; a codec given as {"name": {options}} is built here.
def plugin_params(path)
  params = JSON.parse(File.read(path))
  params["id"] = PLUGIN_ID.to_s
  codec = params["codec"]
  if codec.is_a?(Hash)
    name, codec_options = codec.first
    params["codec"] = LogStash::Codecs.lookup(name).new(codec_options || {})
  end
  params
end

# The fields of event `seq`.
def event_fields(seq, run, padding)
  id = "#{run}-#{seq}"
  return RunnerMix.fields(seq, id, padding) if defined?(RunnerMix)
  { "id" => id, "seq" => seq, "message" => padding }
end

def aborted_batch?(error)
  error.class.name.to_s.end_with?("AbortedBatchException")
end

def log_text(value)
  text = value.is_a?(String) ? value : value.inspect
  text.valid_encoding? ? text : text.scrub
end

plugin = LogStash::Outputs::Kinesis.new(plugin_params(options[:config]))
collector = LogStash::Instrument::Collector.new
plugin.metric = LogStash::Instrument::NamespacedMetric.new(collector, METRIC_PATH)
metric = ->(key) { collector.value(*METRIC_PATH, :kinesis, key) || 0 }

file_dlq = nil
memory_dlq = nil
dlq_inner = case options[:dlq]
            when nil then memory_dlq = LogStash::DeadLetterQueue.new
            when "off" then nil
            else file_dlq = FileDeadLetterQueue.new(options[:dlq])
            end
context = LogStash::ExecutionContext.new(dlq_writer: LogStash::DeadLetterQueueWriter.new(dlq_inner, "output", PLUGIN_ID.to_s))
plugin.execution_context = context
started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
plugin.register

sampler = options[:samples] && ProcessSampler.new(options[:samples], options[:sample_ms] / 1000.0, lambda {
  { "pending" => metric.call(:events_pending), "pending_bytes" => metric.call(:bytes_pending),
    "delivered" => metric.call(:events_delivered),
    "failed" => metric.call(:events_failed) }
})
acked_log = options[:acked_log] && AckedLog.new(options[:acked_log], file_dlq)
source = EventSource.new(events: options[:events], duration_s: options[:duration], rate: options[:rate],
                         batch: options[:batch], skip: options[:replay] ? AckedLog.read(options[:acked_log]) : {})
Signal.trap("TERM") do
  # Trap handlers must not take locks: let another thread do the shutdown request.
  Thread.new do
    source.stop!
    context.pipeline.request_shutdown!
  end
end
# Ready only now: a SIGTERM from here on shuts down the way Logstash does.
File.write(options[:ready_file], Process.pid.to_s) if options[:ready_file]

padding = "x" * options[:message_bytes]
counts = Hash.new(0)
counts_lock = Mutex.new
worker_errors = Queue.new

workers = Array.new(options[:workers]) do
  Thread.new do
    while (seqs = source.next_batch)
      # Events read together share their @timestamp (the stand-in's Timestamp.now is costly).
      stamp = LogStash::Timestamp.now
      batch = seqs.map do |seq|
        fields = event_fields(seq, options[:run], padding)
        fields["@timestamp"] ||= stamp
        LogStash::Event.new(fields)
      end
      begin
        plugin.multi_receive(batch)
      rescue Exception => e # rubocop:disable Lint/RescueException -- a worker must report, not vanish
        raise unless aborted_batch?(e)
        counts_lock.synchronize { counts[:handed_back] += seqs.size }
        break
      end
      acked_log.ack(seqs) if acked_log
      counts_lock.synchronize { counts[:acked] += seqs.size }
    end
  rescue Exception => e # rubocop:disable Lint/RescueException -- a worker must report, not vanish
    worker_errors << e
  end
end
workers.each(&:join)
sent_s = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
plugin.do_close
elapsed_s = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
sampler.stop if sampler
acked_log.close if acked_log
file_dlq.close if file_dlq
usage = ProcessSampler.now

result = {
  "events_in" => options[:events] || source.taken,
  "sent" => source.taken,
  "acked" => counts[:acked],
  "aborted" => counts[:handed_back],
  "delivered" => metric.call(:events_delivered),
  "failed" => metric.call(:events_failed),
  "dead_lettered" => metric.call(:events_dead_lettered),
  "dropped" => metric.call(:events_dropped),
  "retried" => metric.call(:events_retried),
  "handed_back" => metric.call(:events_handed_back),
  "dlq_entries" => file_dlq ? file_dlq.count : (memory_dlq ? memory_dlq.entries.size : 0),
  "kinesis_records" => metric.call(:kinesis_records),
  "kinesis_requests" => metric.call(:kinesis_requests),
  "workers" => options[:workers],
  "batch" => options[:batch],
  "send_seconds" => sent_s.round(2),
  "total_seconds" => elapsed_s.round(2),
  "peak_rss_kb" => usage["peak_rss_kb"],
  "threads" => usage["threads"],
  "fds" => usage["fds"],
  "cpu_s" => usage["cpu_s"],
  "worker_errors" => worker_errors.size,
}

lines = LogStash::Logging::Logger.all.flat_map { |logger| logger.lines.map { |line| [logger.name, line] } }
if options[:log]
  File.open(options[:log], "w") do |file|
    lines.each do |name, line|
      data = line.data.each_with_object({}) { |(key, value), out| out[key.to_s] = log_text(value) }
      file.puts(JSON.generate("logger" => name, "level" => line.level.to_s, "message" => log_text(line.message),
                              "data" => data))
    end
  end
end
serious = lines.select { |_, line| [:warn, :error, :fatal].include?(line.level) }
serious.first(20).each { |_, line| $stderr.puts("log #{line.level}: #{log_text(line.message)} #{log_text(line.data.inspect)}") }
$stderr.puts("log: #{serious.size - 20} more WARN/ERROR lines") if serious.size > 20
until worker_errors.empty?
  error = worker_errors.pop
  $stderr.puts("worker error: #{error.class}: #{error.message}")
end
puts "RESULT #{JSON.generate(result)}"
exit(result["worker_errors"].zero? ? 0 : 1)
