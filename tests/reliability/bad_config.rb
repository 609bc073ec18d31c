# encoding: utf-8
# Bad configurations against the INSTALLED gem: every option with a wrong type, an
# out-of-range value or a conflicting combination must fail (in `new` or `register`, so the
# pipeline never starts) with a LogStash::ConfigurationError naming the option, without
# starting the native producer and without showing a secret.
#
#   GEM_PATH=... KINESIS_ENDPOINT=http://127.0.0.1:PORT SENTINEL_ACCESS_KEY=... SENTINEL_SECRET_KEY=... \
#     jruby tests/reliability/bad_config.rb REPORT.json
#
# Writes {"cases": [{"case", "ok", "problem", "message"}], "producer_threads", "good_registered",
# "secret_leaks"} and exits 0 (the suite judges the report).
require "json"
require_relative "../e2e/installed_gem"
require_relative "../e2e/runner/process_sampler"

InstalledGem.load!
report_path = ARGV.fetch(0)
ACCESS_KEY = ENV.fetch("SENTINEL_ACCESS_KEY")
SECRET_KEY = ENV.fetch("SENTINEL_SECRET_KEY")
GOOD = {
  "stream_name" => "bad-config", "region" => "us-east-1", "kinesis_endpoint" => ENV.fetch("KINESIS_ENDPOINT"),
  "access_key" => ACCESS_KEY, "secret_key" => SECRET_KEY, "metrics_level" => "none",
}.freeze
MIB = 1024 * 1024

# [case name, options merged into GOOD (nil value: option removed), option the message must name]
CASES = []
def bad(name, options, option = options.keys.first)
  CASES << [name, options, option]
end

# Wrong types.
%w[aggregation_enabled fail_if_throttled verify_certificate randomized_partition_key enable_core_dumps].each do |option|
  bad("#{option} not a boolean", option => "maybe")
end
%w[aggregation_max_count aggregation_max_size collection_max_count collection_max_size connect_timeout
   credentials_refresh_delay kinesis_port cloudwatch_port max_connections metrics_upload_delay min_connections
   rate_limit record_max_buffered_time record_ttl request_timeout max_pending_records sts_proxy_port].each do |option|
  bad("#{option} not a number", option => "lots")
end
%w[max_pending_bytes max_record_size].each { |option| bad("#{option} not a size", option => "12 parsecs") }
{ "log_level" => "verbose", "metrics_granularity" => "cluster", "metrics_level" => "everything",
  "delivery" => "exactly_once" }.each { |option, value| bad("#{option} not one of its values", option => value) }
%w[stream_name stream_arn region partition_key explicit_hash_key kinesis_endpoint cloudwatch_endpoint
   metrics_namespace].each { |option| bad("#{option} not a string", option => { "a" => 1 }) }
bad("access_key not a string", { "access_key" => ["x"] }, "access_key")
bad("secret_key not a string", { "secret_key" => 42 }, "secret_key")
bad("unknown option", { "streem_name" => "x" }, "streem_name")
bad("region missing", { "region" => nil }, "region")

# Out of range (both ends where there are two).
{
  "aggregation_max_count" => [0], "aggregation_max_size" => [63, 10 * MIB + 1], "cloudwatch_port" => [0, 65_536],
  "collection_max_count" => [0, 501], "collection_max_size" => [52_223], "connect_timeout" => [99, 300_001],
  "credentials_refresh_delay" => [0, 300_001], "kinesis_port" => [0, 65_536], "max_connections" => [0, 257],
  "metrics_upload_delay" => [0, 60_001], "min_connections" => [0, 17], "rate_limit" => [0],
  "record_max_buffered_time" => [-1], "record_ttl" => [99, 1000.5], "request_timeout" => [99, 600_001],
  "max_record_size" => [MIB - 1, 10 * MIB + 1], "max_pending_records" => [0, 2**32 + 1],
  "max_pending_bytes" => ["1023 KiB", "65 GiB"],
}.each do |option, values|
  values.each { |value| bad("#{option} = #{value.inspect}", option => value) }
end
bad("region not a region", "region" => "eu west 1!")
bad("metrics_namespace reserved", "metrics_namespace" => "AWS/Kinesis")
bad("metrics_namespace empty", "metrics_namespace" => "")
bad("kinesis_endpoint not a host", "kinesis_endpoint" => "ht!tp://x y")
bad("cloudwatch_endpoint not a host", "cloudwatch_endpoint" => "ftp://")

# Conflicts.
bad("stream_name and stream_arn", { "stream_arn" => "arn:aws:kinesis:us-east-1:000000000000:stream/x" }, "stream_arn")
bad("neither stream_name nor stream_arn", { "stream_name" => nil }, "stream_name")
bad("max_pending_bytes below max_record_size", { "max_pending_bytes" => "2 MiB", "max_record_size" => "4 MiB" },
    "max_pending_bytes")
bad("access_key without secret_key", { "secret_key" => nil }, "secret_key")
bad("secret_key without access_key", { "access_key" => nil }, "access_key")

def new_plugin(options)
  params = GOOD.merge(options).reject { |_, value| value.nil? }
  plugin = LogStash::Outputs::Kinesis.new(params)
  plugin.metric = LogStash::Instrument::NamespacedMetric.new(LogStash::Instrument::Collector.new, [:kinesis_bad_config])
  plugin
end

results = CASES.map do |name, options, option|
  message = nil
  error_class = nil
  registered = nil
  begin
    plugin = new_plugin(options)
    plugin.register
    registered = plugin
  rescue StandardError => e
    error_class = e.class
    message = e.message.to_s
  end
  problem = if registered
              registered.do_close
              "registered"
            elsif error_class != LogStash::ConfigurationError
              "raised #{error_class}, not LogStash::ConfigurationError: #{message}"
            elsif !message.include?(option)
              "message does not name #{option}"
            elsif message.include?(SECRET_KEY) || message.include?(ACCESS_KEY)
              "message shows a credential"
            end
  { "case" => name, "ok" => problem.nil?, "problem" => problem, "message" => message.to_s }
end
threads_after_bad = ProcessSampler.engine_threads

# Random keys: with the constant key "-", register would count the stream's shards (one
# ListShards), and the suite checks that no request reached Kinesis.
good = new_plugin("randomized_partition_key" => "true")
good.register
good_threads = ProcessSampler.engine_threads
good.do_close

log_text = LogStash::Logging::Logger.all.flat_map(&:lines).map { |line| "#{line.message} #{line.data.inspect}" }.join("\n")
leaks = [ACCESS_KEY, SECRET_KEY].select { |secret| log_text.include?(secret) || results.any? { |r| r["message"].include?(secret) } }
File.write(report_path, JSON.pretty_generate(
  "cases" => results,
  "producer_threads" => threads_after_bad,
  "good_registered" => good_threads > 0,
  "secret_leaks" => leaks.map { |secret| secret == SECRET_KEY ? "secret_key" : "access_key" }
))
puts "bad_config: #{results.count { |r| r['ok'] }} of #{results.size} refused as expected; " \
     "producer threads after them: #{threads_after_bad}; with the good config: #{good_threads}"
