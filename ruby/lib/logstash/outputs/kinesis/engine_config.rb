# encoding: utf-8
require "json"

class LogStash::Outputs::Kinesis
  # Turns the plugin's options into the engine's JSON configuration, and checks the numeric
  # ranges first so that a bad value fails `register` with the plugin's option name.
  #
  # The engine rejects unknown keys, so only engine options are passed. Its option names are
  # those of crates/kinesis-producer/src/config.rs.
  module EngineConfig
    KIB = 1024
    MIB = 1024 * KIB
    GIB = 1024 * MIB
    # Java's Long.MAX_VALUE, KPL's bound for "unbounded" numbers.
    LONG_MAX = 2**63 - 1

    # Plugin options passed under the same name.
    SAME_NAME = %w[
      region
      aggregation_enabled aggregation_max_count aggregation_max_size
      cloudwatch_endpoint cloudwatch_port
      collection_max_count collection_max_size
      connect_timeout credentials_refresh_delay fail_if_throttled
      kinesis_endpoint kinesis_port log_level max_connections
      metrics_granularity metrics_level metrics_namespace metrics_upload_delay
      rate_limit record_max_buffered_time record_ttl request_timeout verify_certificate
      max_pending_records max_pending_bytes
      profile role_arn role_session_name sts_endpoint sts_proxy_host sts_proxy_port metrics_role_arn ca_bundle
    ].freeze

    # Plugin options the engine knows under another name.
    RENAMED = { "max_record_size" => "max_user_record_size" }.freeze

    # Secrets: :password options, unwrapped only into the JSON handed to the engine.
    SECRETS = %w[access_key secret_key metrics_access_key metrics_secret_key external_id proxy].freeze

    # Options of the old gem that mean nothing without the KPL daemon: accepted, not passed.
    IGNORED = {
      "native_executable" => "there is no KPL daemon to run",
      "temp_directory" => "there is no KPL daemon to extract",
      "enable_core_dumps" => "there is no KPL daemon to dump",
      "min_connections" => "connections are opened as needed up to max_connections",
    }.freeze

    # Inclusive ranges of the numeric options, by plugin option name. Engine options share the
    # engine's ranges (checked against config.rs by the specs); max_record_size is the plugin's.
    RANGES = {
      "aggregation_max_count" => 1..LONG_MAX,
      "aggregation_max_size" => 64..10 * MIB,
      "cloudwatch_port" => 1..65_535,
      "collection_max_count" => 1..500,
      "collection_max_size" => 52_224..LONG_MAX,
      "connect_timeout" => 100..300_000,
      "credentials_refresh_delay" => 1..300_000,
      "kinesis_port" => 1..65_535,
      "max_connections" => 1..256,
      "metrics_upload_delay" => 1..60_000,
      "min_connections" => 1..16,
      "rate_limit" => 1..LONG_MAX,
      "record_max_buffered_time" => 0..LONG_MAX,
      "record_ttl" => 100..LONG_MAX,
      "request_timeout" => 100..600_000,
      "max_record_size" => MIB..10 * MIB,
      "max_pending_records" => 1..2**32,
      "max_pending_bytes" => MIB..64 * GIB,
      "sts_proxy_port" => 1..65_535,
    }.freeze

    module_function

    # Problems with the options (an Array of messages, empty when fine). Never shows secrets.
    def problems(options)
      found = []
      RANGES.each do |name, range|
        value = options[name]
        next if value.nil?
        unless value.is_a?(Integer) || (value.is_a?(Float) && value == value.floor)
          found << "#{name} must be a whole number (got #{value.inspect})"
          next
        end
        next if range.cover?(value)
        found << "#{name} must be between #{range.first} and #{range.last} (got #{value.inspect})"
      end
      record_size = options["max_record_size"]
      pending_bytes = options["max_pending_bytes"]
      if record_size && pending_bytes && pending_bytes < record_size
        found << "max_pending_bytes (#{pending_bytes}) must be at least max_record_size (#{record_size})"
      end
      found.concat(lone_keys(options))
      found
    end

    # A static key without its partner. The metrics keys default field by field to the Kinesis
    # keys, so only a pair that stays incomplete after that is reported.
    def lone_keys(options)
      set = ->(name) { !options[name].nil? }
      found = []
      if set.call("access_key") != set.call("secret_key")
        given, missing = set.call("access_key") ? %w[access_key secret_key] : %w[secret_key access_key]
        found << "#{given} is set but #{missing} is not: static credentials need both"
      end
      metrics_access = set.call("metrics_access_key") || set.call("access_key")
      metrics_secret = set.call("metrics_secret_key") || set.call("secret_key")
      if metrics_access != metrics_secret && (set.call("metrics_access_key") || set.call("metrics_secret_key"))
        given, missing = metrics_access ? %w[metrics_access_key metrics_secret_key] : %w[metrics_secret_key metrics_access_key]
        found << "#{given} is set but #{missing} is not (nor its Kinesis counterpart): static credentials need both"
      end
      found
    end

    # Names of the IGNORED options set to something other than their default.
    def ignored_in_use(options, defaults)
      IGNORED.keys.select { |name| !options[name].nil? && options[name] != defaults[name] }
    end

    # The engine's JSON configuration. Contains the credentials: hand it to the engine only.
    def json(options)
      engine = {}
      SAME_NAME.each { |name| engine[name] = options[name] }
      RENAMED.each { |plugin_name, engine_name| engine[engine_name] = options[plugin_name] }
      SECRETS.each { |name| engine[name] = secret_value(options[name]) }
      engine.delete_if { |_, value| value.nil? }
      engine.each { |name, value| engine[name] = value.to_i if value.is_a?(Float) && value == value.floor }
      JSON.generate(engine)
    end

    def secret_value(value)
      value.respond_to?(:value) ? value.value : value
    end
  end
end
