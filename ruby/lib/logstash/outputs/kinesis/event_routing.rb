# encoding: utf-8
require "json"
require "securerandom"

class LogStash::Outputs::Kinesis
  # Decides, per event, the stream, partition key and explicit hash key of its Kinesis record.
  #
  # Partition keys follow the old gem: a random UUID when randomized, else "-" + the first
  # non-empty field of event_partition_keys, else "-". A partition_key format, when set, comes
  # before event_partition_keys. The key is stored in [@metadata][partition_key]. A key longer
  # than Kinesis takes is never cut (that would send the event to another shard than its key
  # says): the event fails with a reason naming where the key came from.
  class EventRouting
    # Where one event goes; `problem` is set (and `stream` nil) when it cannot be sent.
    Route = Struct.new(:stream, :partition_key, :explicit_hash_key, :problem)

    METADATA_FIELD = "[@metadata][partition_key]".freeze
    DEFAULT_KEY = "-".freeze
    # Kinesis takes partition keys of 1 to 256 Unicode characters.
    MAX_KEY_CHARS = 256
    # sprintf leaves a reference to a missing field as it is: "%{field}".
    UNRESOLVED_REFERENCE = /%\{[^}]*\}/

    # stream_option names the option the stream format came from, for error messages.
    def initialize(stream_format:, stream_option:, event_partition_keys: [], randomized_partition_key: false,
                   partition_key_format: nil, explicit_hash_key_format: nil)
      @stream_format = stream_format
      @stream_option = stream_option
      @static_stream = stream_format.include?("%{") ? nil : stream_format
      @event_partition_keys = event_partition_keys
      @randomized = randomized_partition_key
      @partition_key_format = blank?(partition_key_format) ? nil : partition_key_format
      @explicit_hash_key_format = blank?(explicit_hash_key_format) ? nil : explicit_hash_key_format
    end

    # True when every event gets the constant key "-" (so every record goes to one shard).
    def constant_partition_key?
      !@randomized && @partition_key_format.nil? && @event_partition_keys.empty?
    end

    # The stream when it does not depend on the event, else nil.
    attr_reader :static_stream

    # Resolves one event and stores its partition key in [@metadata][partition_key].
    def resolve(event)
      key, source = partition_key(event)
      event.set(METADATA_FIELD, key)
      stream = @static_stream || event.sprintf(@stream_format)
      problem = stream_problem(stream) || key_problem(key, source)
      return Route.new(nil, key, nil, problem) if problem
      Route.new(stream, key, explicit_hash_key(event), nil)
    end

    private

    # [key, where it came from (for messages)].
    def partition_key(event)
      return [SecureRandom.uuid, nil] if @randomized
      formatted_key(event) || key_from_fields(event) || [DEFAULT_KEY, nil]
    end

    # The partition_key format; nil (fall back to the old rules) when empty or unresolved.
    def formatted_key(event)
      return nil unless @partition_key_format
      key = event.sprintf(@partition_key_format)
      key.empty? || key =~ UNRESOLVED_REFERENCE ? nil : [key, "partition_key #{@partition_key_format.inspect}"]
    end

    def key_from_fields(event)
      @event_partition_keys.each do |field|
        value = event.get(field)
        next if value.nil? || (value.respond_to?(:empty?) && value.empty?)
        text = FieldText.of(value)
        return [DEFAULT_KEY + text, "event_partition_keys field #{field.inspect}"] unless text.empty?
      end
      nil
    end

    def key_problem(key, source)
      return nil if key.length <= MAX_KEY_CHARS
      "partition key from #{source} has #{key.length} characters; Kinesis takes 1 to #{MAX_KEY_CHARS}"
    end

    # Routes by the partition key's MD5 when the format yields nothing.
    def explicit_hash_key(event)
      return nil unless @explicit_hash_key_format
      key = event.sprintf(@explicit_hash_key_format).strip
      key.empty? || key =~ UNRESOLVED_REFERENCE ? nil : key
    end

    def stream_problem(stream)
      unresolved = stream.scan(UNRESOLVED_REFERENCE)
      unless unresolved.empty?
        return "#{@stream_option} #{@stream_format.inspect} has field references the event does not " \
               "resolve: #{unresolved.uniq.join(', ')}"
      end
      return "#{@stream_option} #{@stream_format.inspect} resolved to an empty stream name" if stream.strip.empty?
      nil
    end

    def blank?(text)
      text.nil? || text.strip.empty?
    end
  end

  # Text of an event field value for a partition key, formatted as sprintf formats it.
  module FieldText
    module_function

    # nil for nil; arrays joined with ",", hashes as JSON, timestamps as ISO 8601.
    def of(value)
      case value
      when nil then nil
      when String then value
      when Array then value.map { |element| element_text(element) }.join(",")
      when Hash then JSON.generate(plain(value))
      else scalar_text(value)
      end
    end

    def element_text(value)
      value.is_a?(Hash) || value.is_a?(Array) ? JSON.generate(plain(value)) : scalar_text(value)
    end

    def scalar_text(value)
      return value.to_s("F") if defined?(BigDecimal) && value.is_a?(BigDecimal)
      value.to_s
    end

    # A copy that JSON can write: timestamps and other objects become their text.
    def plain(value)
      case value
      when Hash then value.each_with_object({}) { |(k, v), out| out[k.to_s] = plain(v) }
      when Array then value.map { |element| plain(element) }
      when String, Integer, Float, true, false, nil then value
      else scalar_text(value)
      end
    end
  end
end
