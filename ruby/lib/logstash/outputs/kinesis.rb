# encoding: utf-8
require "logstash/outputs/base"
require "logstash/namespace"

# Sends events to Amazon Kinesis Data Streams. The producer (KPL-compatible aggregation,
# batching, rate limiting, retries) runs in-process in native code: there is no KPL daemon.
#
# By default a batch is acked only when every event in it is delivered or dead-lettered.
class LogStash::Outputs::Kinesis < LogStash::Outputs::Base
  require "logstash/outputs/kinesis/event_routing"
  require "logstash/outputs/kinesis/batch_packer"
  require "logstash/outputs/kinesis/engine_config"
  require "logstash/outputs/kinesis/plugin_metrics"
  require "logstash/outputs/kinesis/dead_letters"
  require "logstash/outputs/kinesis/settlement"
  require "logstash/outputs/kinesis/backpressure"
  require "logstash/outputs/kinesis/shutdown_signal"
  require "logstash/outputs/kinesis/outcome_reaper"
  require "logstash/outputs/kinesis/delivery"
  require "logstash/outputs/kinesis/producer"

  config_name "kinesis"
  concurrency :shared
  default :codec, "json"

  # --- Where records go ---

  # Target stream name; %{field} references are resolved per event. Required unless stream_arn is set.
  config :stream_name, :validate => :string
  # Target stream ARN, instead of stream_name (e.g. for a stream of another account); %{field} allowed.
  config :stream_arn, :validate => :string
  # AWS region of the stream, e.g. "eu-west-1".
  config :region, :validate => :string, :required => true

  # --- Partition keys ---

  # Fields tried in order; the first non-empty one gives the partition key "-" + its value.
  config :event_partition_keys, :validate => :array, :default => []
  # A fresh random UUID (v4) as partition key per event; wins over every other key option.
  config :randomized_partition_key, :validate => :boolean, :default => false
  # A sprintf format for the partition key, e.g. "%{[host][name]}"; when empty or unresolved, the rules above apply.
  config :partition_key, :validate => :string
  # A sprintf format giving a decimal 128-bit explicit hash key that picks the shard instead of the key's MD5.
  config :explicit_hash_key, :validate => :string

  # --- Delivery and backpressure ---

  # "at_least_once": a batch returns when every event is delivered or dead-lettered; "at_most_once": the old fire-and-forget.
  config :delivery, :validate => ["at_least_once", "at_most_once"], :default => "at_least_once"
  # Records held by the producer above which the pipeline blocks until there is room.
  config :max_pending_records, :validate => :number, :default => 1000
  # Bytes (data plus partition keys) held by the producer above which the pipeline blocks.
  config :max_pending_bytes, :validate => :bytes, :default => 256 * 1024 * 1024
  # Largest record (data plus partition key) accepted, 1 MiB to 10 MiB; larger events are dead-lettered.
  config :max_record_size, :validate => :bytes, :default => 1024 * 1024

  # --- Credentials ---
  # Without access_key/secret_key the AWS default chain is used: environment variables, the
  # shared config and credentials files (see profile), web identity tokens (EKS IRSA), ECS/EKS
  # container credentials, EC2 instance metadata (IMDSv2) and SSO. Credentials that expire are
  # refreshed in the background before they do. register fails when none can be obtained.

  # Static AWS access key id (with secret_key); default: the AWS default credentials chain.
  config :access_key, :validate => :password
  # Static AWS secret access key (with access_key).
  config :secret_key, :validate => :password
  # Profile of the shared AWS config and credentials files (default: AWS_PROFILE, else "default").
  config :profile, :validate => :string
  # IAM role assumed through STS for Kinesis, with access_key/secret_key or the default chain.
  config :role_arn, :validate => :string
  # Session name of the assumed roles (role_arn and metrics_role_arn).
  config :role_session_name, :validate => :string, :default => "logstash-output-kinesis"
  # External id sent when assuming role_arn and metrics_role_arn.
  config :external_id, :validate => :password
  # STS endpoint (host name or full URL) for assuming roles; default: the region's (or AWS_ENDPOINT_URL_STS).
  config :sts_endpoint, :validate => :string
  # HTTP proxy host for the STS requests that assume role_arn and metrics_role_arn.
  config :sts_proxy_host, :validate => :string
  # HTTP proxy port for those STS requests (default 80).
  config :sts_proxy_port, :validate => :number
  # Access key id for CloudWatch metrics; defaults to access_key.
  config :metrics_access_key, :validate => :password
  # Secret access key for CloudWatch metrics; defaults to secret_key.
  config :metrics_secret_key, :validate => :password
  # IAM role assumed through STS for CloudWatch metrics. Does NOT default to role_arn (as in the
  # KPL-based plugin): set it to the same ARN to sign metrics with that role too.
  config :metrics_role_arn, :validate => :string

  # --- Network ---

  # HTTP proxy for all AWS traffic, "http://[user:password@]host:port"; default: HTTPS_PROXY/HTTP_PROXY.
  # NO_PROXY and the instance/container metadata addresses always bypass it.
  config :proxy, :validate => :password
  # PEM file of certificate authorities to trust in addition to the system's.
  config :ca_bundle, :validate => :string

  # --- KPL settings (KPL's setters, snake_cased; same defaults and ranges) ---

  # Packs several events into one Kinesis record (KPL aggregation format, read by KCL).
  config :aggregation_enabled, :validate => :boolean, :default => true
  # Most events in one aggregated record (1 to 2^63-1).
  config :aggregation_max_count, :validate => :number, :default => 4_294_967_295
  # Largest aggregated record in bytes (64 to 10485760).
  config :aggregation_max_size, :validate => :number, :default => 51_200
  # CloudWatch host name (or URL) instead of the region's endpoint.
  config :cloudwatch_endpoint, :validate => :string
  # CloudWatch port (1 to 65535), used with a host name in cloudwatch_endpoint.
  config :cloudwatch_port, :validate => :number, :default => 443
  # Most records in one PutRecords request (1 to 500).
  config :collection_max_count, :validate => :number, :default => 500
  # Most bytes in one PutRecords request (52224 to 2^63-1; Kinesis caps a request at 10 MiB).
  config :collection_max_size, :validate => :number, :default => 5_242_880
  # Connection timeout in milliseconds (100 to 300000).
  config :connect_timeout, :validate => :number, :default => 6000
  # Wait before retrying a failed credentials refresh, in milliseconds (1 to 300000; at least 1 s is waited).
  config :credentials_refresh_delay, :validate => :number, :default => 5000
  # Accepted for compatibility, ignored: there is no KPL daemon to dump core.
  config :enable_core_dumps, :validate => :boolean, :default => false
  # Fails throttled records at once instead of retrying them.
  config :fail_if_throttled, :validate => :boolean, :default => false
  # Kinesis host name (or URL) instead of the region's endpoint.
  config :kinesis_endpoint, :validate => :string
  # Kinesis port (1 to 65535), used with a host name in kinesis_endpoint.
  config :kinesis_port, :validate => :number, :default => 443
  # Least severe level the producer logs.
  config :log_level, :validate => ["info", "warning", "error"], :default => "info"
  # Most concurrent HTTP connections to Kinesis (1 to 256).
  config :max_connections, :validate => :number, :default => 4
  # Finest dimension of the CloudWatch metrics.
  config :metrics_granularity, :validate => ["global", "stream", "shard"], :default => "shard"
  # Which CloudWatch metrics are uploaded ("none" turns them off).
  config :metrics_level, :validate => ["none", "summary", "detailed"], :default => "detailed"
  # CloudWatch namespace of the metrics (1 to 255 characters, not starting with "AWS/").
  config :metrics_namespace, :validate => :string, :default => "KinesisProducerLibrary"
  # CloudWatch upload interval in milliseconds (1 to 60000).
  config :metrics_upload_delay, :validate => :number, :default => 60_000
  # Accepted for compatibility (1 to 16), ignored: KPL never used it either.
  config :min_connections, :validate => :number, :default => 1
  # Accepted for compatibility, ignored: there is no KPL daemon.
  config :native_executable, :validate => :string
  # Per-shard send rate limit in percent of the shard's capacity (1 to 2^63-1).
  config :rate_limit, :validate => :number, :default => 150
  # Longest time a record waits to be batched, in milliseconds (0 to 2^63-1).
  config :record_max_buffered_time, :validate => :number, :default => 100
  # Time after which an undelivered record fails (and is dead-lettered), in milliseconds (100 to 2^63-1).
  config :record_ttl, :validate => :number, :default => 30_000
  # HTTP request timeout in milliseconds (100 to 600000).
  config :request_timeout, :validate => :number, :default => 6000
  # Accepted for compatibility, ignored: there is no KPL daemon to extract.
  config :temp_directory, :validate => :string
  # Checks TLS certificates.
  config :verify_certificate, :validate => :boolean, :default => true

  # Longest wait at close for records still in flight.
  MAX_CLOSE_TIMEOUT_MS = 60_000
  # How often close looks whether the producer has drained.
  DRAIN_POLL_S = 0.05

  def register
    check_options!
    @metrics = PluginMetrics.new(metric)
    @routing = EventRouting.new(
      :stream_format => set?(@stream_arn) ? @stream_arn : @stream_name,
      :stream_option => set?(@stream_arn) ? "stream_arn" : "stream_name",
      :event_partition_keys => @event_partition_keys,
      :randomized_partition_key => @randomized_partition_key,
      :partition_key_format => @partition_key,
      :explicit_hash_key_format => @explicit_hash_key
    )
    @dead_letters = DeadLetters.new(dlq_writer, logger, @metrics)
    @producer = open_producer
    settlement = Settlement.new(@dead_letters, @metrics)
    @reaper = at_most_once? ? OutcomeReaper.new(@producer, settlement, logger) : nil
    @sender = Delivery.new(
      :producer => @producer,
      :backpressure => Backpressure.new(@producer, logger, @max_pending_records),
      :settlement => settlement,
      :metrics => @metrics,
      :shutdown => ShutdownSignal.new(method(:shutdown_requested?), @request_timeout),
      :reaper => @reaper
    )
    @close_lock = Mutex.new
    @closed = false
    note_ignored_options
    warn_if_one_shard
    warn_if_certificates_unchecked
  end

  # Resolves stream and partition key before encoding, as the old gem did, so that codecs can
  # use [@metadata][partition_key].
  def multi_receive(events)
    return if events.empty?
    routes = {}.compare_by_identity
    events.each { |event| routes[event] = @routing.resolve(event) }
    send_encoded(codec.multi_encode(events), routes)
  end

  # [[event, encoded String], ...]; with at_least_once, returns when every record has its outcome.
  def multi_receive_encoded(pairs)
    return if pairs.empty?
    send_encoded(pairs, {}.compare_by_identity)
  end

  # Sends what is buffered, waits for it up to a deadline, and frees the native producer once.
  def close
    return if @producer.nil?
    @close_lock.synchronize do
      return if @closed
      @closed = true
    end
    begin
      left_ms = drain(close_timeout_ms)
      read_final_totals
      failed = @producer.close(left_ms)
      if failed && failed > 0
        logger.warn("Closed the Kinesis producer before every record had an outcome",
                    :records_failed => failed, :delivery => @delivery)
      end
    ensure
      @reaper.stop(close_timeout_ms / 1000.0) if @reaper
    end
  end

  private

  def send_encoded(pairs, routes)
    records = []
    unsendable = {}.compare_by_identity
    pairs.each do |event, payload|
      route = routes[event] ||= @routing.resolve(event)
      record = Record.new(event, route, payload)
      problem = route.problem || size_problem(record)
      if problem
        unsendable[event] = [problem, route.partition_key]
      else
        records << record
      end
    end
    @sender.deliver(records)
    unsendable.each { |event, (problem, key)| @dead_letters.fail(event, problem, :partition_key => key) }
  end

  # Oversized events fail here, with the plugin's option in the reason.
  def size_problem(record)
    size = record.size
    return nil if size <= @max_record_size
    "event is #{size} bytes encoded (data plus partition key), more than max_record_size (#{@max_record_size})"
  end

  def at_most_once?
    @delivery == "at_most_once"
  end

  # The option values by name, for EngineConfig.
  def option_values
    names = self.class.get_config.keys.select { |name| name.is_a?(String) && name =~ /\A\w+\z/ }
    names.each_with_object({}) { |name, values| values[name] = instance_variable_get("@#{name}") }
  end

  def set?(text)
    !text.nil? && !text.strip.empty?
  end

  def check_options!
    problems = []
    problems << "set exactly one of stream_name and stream_arn" if set?(@stream_name) == set?(@stream_arn)
    problems.concat(EngineConfig.problems(option_values))
    return if problems.empty?
    raise LogStash::ConfigurationError, "Invalid kinesis output configuration: #{problems.join('; ')}"
  end

  def open_producer
    Producer.new(EngineConfig.json(option_values))
  rescue Producer::InvalidConfig => e
    raise LogStash::ConfigurationError, "Invalid kinesis output configuration: #{e.message}"
  end

  def note_ignored_options
    defaults = {}
    self.class.get_config.each { |name, opts| defaults[name] = opts[:default] }
    ignored = EngineConfig.ignored_in_use(option_values, defaults)
    return if ignored.empty?
    logger.info("These options of the KPL-based plugin have no effect any more and are ignored",
                :options => ignored.map { |name| "#{name} (#{EngineConfig::IGNORED[name]})" })
  end

  # The constant key "-" sends everything to one shard: say so when the stream has more.
  def warn_if_one_shard
    return unless @routing.constant_partition_key? && @routing.static_stream
    shards = @producer.shard_count(@routing.static_stream)
    return unless shards && shards > 1
    logger.warn("Every event gets the partition key \"-\", so only one shard of the stream receives records; " \
                "set randomized_partition_key, partition_key or event_partition_keys to use all of them",
                :stream => @routing.static_stream, :shards => shards)
  rescue StandardError => e
    logger.debug("Could not count the shards of the stream", :stream => @routing.static_stream, :error => e.message)
  end

  def warn_if_certificates_unchecked
    return if @verify_certificate
    logger.warn("TLS certificates of the Kinesis endpoint are not verified (verify_certificate => false): anyone " \
                "on the network path can read and change what is sent; use this only with a local test endpoint")
  end

  def dlq_writer
    return nil unless respond_to?(:execution_context) && execution_context
    execution_context.respond_to?(:dlq_writer) ? execution_context.dlq_writer : nil
  end

  # True once the pipeline is stopping (Logstash 8.2+ has pipeline_shutdown_requested?).
  def shutdown_requested?
    return pipeline_shutdown_requested? ? true : false if respond_to?(:pipeline_shutdown_requested?)
    pipeline = execution_context && execution_context.respond_to?(:pipeline) ? execution_context.pipeline : nil
    pipeline.respond_to?(:shutdown_requested?) && pipeline.shutdown_requested? ? true : false
  rescue StandardError
    false
  end

  # Sends what is buffered and waits, up to timeout_ms, until every record has its outcome, so
  # that the final totals are complete; returns the time left.
  def drain(timeout_ms)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond) + timeout_ms
    @producer.flush
    loop do
      left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond)
      records, = @producer.outstanding
      return [left, 0].max if records.zero? || left <= 0
      sleep(DRAIN_POLL_S)
    end
  rescue StandardError => e
    logger.debug("Could not drain the producer before closing it", :error => e.message)
    timeout_ms
  end

  # The engine's totals can only be read while it is open.
  def read_final_totals
    @metrics.refresh_engine_totals(@producer, true)
  rescue StandardError => e
    logger.debug("Could not read the producer's final totals", :error => e.message)
  end

  # Every record has an outcome after record_ttl; with at_least_once only batches handed back
  # (and replayed anyway) can still be in flight, so a request's time is enough.
  def close_timeout_ms
    wait = at_most_once? ? @record_ttl + 1000 : @request_timeout + 1000
    [wait, MAX_CLOSE_TIMEOUT_MS].min
  end
end
