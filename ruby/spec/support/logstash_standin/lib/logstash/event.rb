# encoding: utf-8
require "json"
require "time"
require "logstash/namespace"
require "logstash/timestamp"

module LogStash
  # An event as plugins see it: field references, @metadata kept apart (never serialised), and
  # sprintf that leaves a reference to a missing field as it is.
  class Event
    METADATA = "@metadata".freeze
    TIMESTAMP = "@timestamp".freeze
    REFERENCE = /%\{([^}]+)\}/

    def initialize(data = {})
      data = deep_copy(stringify(data))
      @metadata = data.delete(METADATA) || {}
      @data = data
      @data[TIMESTAMP] = Timestamp.coerce(@data[TIMESTAMP]) || Timestamp.now
      @data["@version"] ||= "1"
    end

    # The value at a reference such as "field", "[a][b]" or "[@metadata][x]"; a copy for containers.
    def get(reference)
      root, path = locate(reference)
      value = path.reduce(root) { |node, key| node.is_a?(Hash) ? node[key] : (node.is_a?(Array) && key =~ /\A-?\d+\z/ ? node[key.to_i] : nil) }
      deep_copy(value)
    end

    def set(reference, value)
      root, path = locate(reference)
      raise ArgumentError, "cannot set #{reference}" if path.empty?
      parent = path[0..-2].reduce(root) { |node, key| node[key].is_a?(Hash) ? node[key] : (node[key] = {}) }
      value = Timestamp.coerce(value) || value if path == [TIMESTAMP]
      parent[path.last] = deep_copy(value)
    end

    def include?(reference)
      root, path = locate(reference)
      parent = path[0..-2].reduce(root) { |node, key| node.is_a?(Hash) ? node[key] : nil }
      parent.is_a?(Hash) && parent.key?(path.last)
    end

    def remove(reference)
      root, path = locate(reference)
      parent = path[0..-2].reduce(root) { |node, key| node.is_a?(Hash) ? node[key] : nil }
      parent.is_a?(Hash) ? parent.delete(path.last) : nil
    end

    def timestamp
      @data[TIMESTAMP]
    end

    def tag(name)
      tags = @data["tags"] ||= []
      tags << name unless tags.include?(name)
    end

    # The fields without @metadata.
    def to_hash
      deep_copy(@data)
    end

    def to_hash_with_metadata
      @metadata.empty? ? to_hash : to_hash.merge(METADATA => deep_copy(@metadata))
    end

    # JSON of the fields, without @metadata and without a trailing newline.
    def to_json(*_args)
      JSON.generate(plain(@data))
    end

    def to_s
      "#{timestamp} #{@data['host']} #{@data['message']}"
    end

    # Replaces %{reference} with the field's text (arrays joined with ",", hashes as JSON),
    # %{+FORMAT} with the @timestamp formatted in UTC (Joda patterns, or %{+%s} for epoch
    # seconds). A missing field leaves its %{reference} in place.
    def sprintf(format)
      format.to_s.gsub(REFERENCE) do
        reference = Regexp.last_match(1)
        if reference.start_with?("+")
          format_time(reference[1..-1]) || Regexp.last_match(0)
        else
          value = get(reference)
          value.nil? ? Regexp.last_match(0) : text(value)
        end
      end
    end

    private

    def locate(reference)
      path = parse(reference)
      if path.first == METADATA
        [@metadata, path[1..-1]]
      else
        [@data, path]
      end
    end

    # "[a][b]" -> ["a", "b"]; "a" -> ["a"].
    def parse(reference)
      reference = reference.to_s
      return [reference] unless reference.start_with?("[")
      reference.scan(/\[([^\]]+)\]/).flatten
    end

    def text(value)
      case value
      when Array then value.map { |element| element.is_a?(Hash) || element.is_a?(Array) ? JSON.generate(plain(element)) : element.to_s }.join(",")
      when Hash then JSON.generate(plain(value))
      else value.to_s
      end
    end

    JODA = [
      ["yyyy", "%Y"], ["YYYY", "%Y"], ["MM", "%m"], ["dd", "%d"], ["HH", "%H"],
      ["mm", "%M"], ["ss", "%S"], ["SSS", "%L"], ["ZZ", "+00:00"],
    ].freeze

    def format_time(pattern)
      stamp = timestamp
      return nil unless stamp.is_a?(Timestamp)
      return stamp.to_i.to_s if pattern == "%s"
      strftime = pattern.dup
      JODA.each { |joda, ruby| strftime = strftime.gsub(joda, ruby) }
      stamp.time.strftime(strftime)
    end

    def plain(value)
      case value
      when Hash then value.each_with_object({}) { |(k, v), out| out[k] = plain(v) }
      when Array then value.map { |element| plain(element) }
      when Timestamp then value.to_iso8601
      else value
      end
    end

    def stringify(value)
      case value
      when Hash then value.each_with_object({}) { |(k, v), out| out[k.to_s] = stringify(v) }
      when Array then value.map { |element| stringify(element) }
      else value
      end
    end

    def deep_copy(value)
      case value
      when Hash then value.each_with_object({}) { |(k, v), out| out[k] = deep_copy(v) }
      when Array then value.map { |element| deep_copy(element) }
      when String then value.dup
      else value
      end
    end
  end
end
