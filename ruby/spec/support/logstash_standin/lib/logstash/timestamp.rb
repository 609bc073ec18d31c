# encoding: utf-8
require "json"
require "time"
require "logstash/namespace"

module LogStash
  # An instant with millisecond precision, printed in ISO 8601 UTC like Logstash's Timestamp.
  class Timestamp
    include Comparable

    attr_reader :time

    def self.now
      new(Time.now)
    end

    # Accepts a Timestamp, a Time or an ISO 8601 String.
    def self.coerce(value)
      case value
      when Timestamp then value
      when Time then new(value)
      when String then new(Time.iso8601(value))
      end
    end

    def initialize(time = Time.now)
      @time = Time.at(time.to_r.floor(3)).utc
    end

    def to_i
      @time.to_i
    end

    def to_iso8601
      @time.strftime("%Y-%m-%dT%H:%M:%S.%LZ")
    end
    alias to_s to_iso8601

    def inspect
      to_iso8601
    end

    def to_json(*args)
      to_iso8601.to_json(*args)
    end

    def <=>(other)
      other.is_a?(Timestamp) ? @time <=> other.time : nil
    end
  end
end
