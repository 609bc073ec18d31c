# encoding: utf-8
require "logstash/namespace"
require "logstash/util/password"

module LogStash
  module Config
    # The `config` DSL: options are declared on the class; `new(params)` substitutes ${VAR},
    # applies defaults, checks and coerces every value, sets @name for each option, and raises
    # LogStash::ConfigurationError for unknown, missing, obsolete or invalid options.
    module Mixin
      def self.included(base)
        base.extend(DSL)
      end

      # Class-level declarations.
      module DSL
        def config_name(name = nil)
          @config_name = name.to_s if name
          @config_name
        end

        def config(name, opts = {})
          name = name.to_s
          (@declared ||= {})[name] = opts
          attr_accessor name
        end

        # Overrides the default of an option declared here or in a parent class.
        def default(name, value)
          (@defaults ||= {})[name.to_s] = value
        end

        # Every option by name (parents' first) with its declaration.
        def get_config
          inherited = superclass.respond_to?(:get_config) ? superclass.get_config : {}
          merged = inherited.merge(@declared || {})
          (@defaults || {}).each { |name, value| merged[name] = merged.fetch(name, {}).merge(:default => value) }
          merged
        end
      end

      ENV_REFERENCE = /\$\{(\w+)(?::([^}]*))?\}/

      def config_init(params)
        settings = self.class.get_config
        errors = []
        params = params.each_with_object({}) { |(k, v), out| out[k.to_s] = v }
        params.each_key do |name|
          errors << "Unknown setting '#{name}' for #{self.class.config_name}" unless settings.key?(name)
        end
        settings.each do |name, opts|
          if params.key?(name)
            if opts[:obsolete]
              errors << "The setting `#{name}` in plugin `#{self.class.config_name}` is obsolete and is no longer available. #{opts[:obsolete]}"
              next
            end
            if opts[:deprecated]
              logger.warn("You are using a deprecated config setting #{name.inspect} set in #{self.class.config_name}. " \
                          "Deprecated settings will continue to work, but are scheduled for removal from logstash in the future. " \
                          "#{opts[:deprecated]}")
            end
          elsif opts.key?(:default)
            params[name] = copy_default(opts[:default])
          elsif opts[:required]
            errors << "Missing a required setting for the #{self.class.config_name} plugin: #{name}"
          end
        end
        params.each do |name, value|
          opts = settings[name]
          next if opts.nil? || opts[:obsolete] || value.nil?
          begin
            params[name] = coerce_value(substitute_variables(value), opts[:validate], opts[:list])
          rescue ArgumentError => e
            errors << "Invalid setting for #{self.class.config_name} output plugin: #{name}: #{e.message}"
          end
        end
        raise LogStash::ConfigurationError, errors.join("; ") unless errors.empty?
        params.each { |name, value| instance_variable_set("@#{name}", value) if settings.key?(name) }
        @config = params
        params
      end

      private

      def substitute_variables(value)
        case value
        when String
          value.gsub(ENV_REFERENCE) do
            variable = Regexp.last_match(1)
            fallback = Regexp.last_match(2)
            ENV.fetch(variable) do
              next fallback if fallback
              raise LogStash::ConfigurationError,
                    "Cannot evaluate `${#{variable}}`. Replacement variable `#{variable}` is not defined in a Logstash " \
                    "secret store or an environment entry and there is no default value given."
            end
          end
        when Array then value.map { |element| substitute_variables(element) }
        when Hash then value.each_with_object({}) { |(k, v), out| out[k] = substitute_variables(v) }
        else value
        end
      end

      def coerce_value(value, validator, list)
        if list
          values = value.is_a?(Array) ? value : [value]
          return values.map { |element| coerce_value(element, validator, false) }
        end
        case validator
        when nil then value
        when Array
          raise ArgumentError, "Invalid value #{value.inspect}. Valid options are: #{validator.join(', ')}" unless validator.include?(value)
          value
        when :string, :uri, :path
          raise ArgumentError, "Expected string, got #{value.inspect}" unless value.is_a?(String)
          value
        when :password
          return value if value.is_a?(LogStash::Util::Password)
          raise ArgumentError, "Expected a string password, got a #{value.class}" unless value.is_a?(String)
          LogStash::Util::Password.new(value)
        when :number then coerce_number(value)
        when :boolean then coerce_boolean(value)
        when :array then value.is_a?(Array) ? value : [value]
        when :hash
          raise ArgumentError, "Expected hash, got #{value.inspect}" unless value.is_a?(Hash)
          value
        when :bytes then coerce_bytes(value)
        when :codec then coerce_codec(value)
        else raise ArgumentError, "unknown validator #{validator.inspect}"
        end
      end

      def coerce_number(value)
        return value if value.is_a?(Numeric)
        if value.is_a?(String)
          return Integer(value, 10) if value =~ /\A\s*[-+]?\d+\s*\z/
          return Float(value) if value =~ /\A\s*[-+]?\d*\.?\d+(e[-+]?\d+)?\s*\z/i
        end
        raise ArgumentError, "Expected number, got #{value.inspect}"
      end

      def coerce_boolean(value)
        return value if value == true || value == false
        return true if value == "true"
        return false if value == "false"
        raise ArgumentError, "Expected boolean, got #{value.inspect}"
      end

      UNITS = { nil => 1, "b" => 1, "kb" => 1000, "kib" => 1024, "mb" => 1000**2, "mib" => 1024**2,
                "gb" => 1000**3, "gib" => 1024**3, "tb" => 1000**4, "tib" => 1024**4 }.freeze

      # "10 MiB" -> 10485760; plain numbers are bytes.
      def coerce_bytes(value)
        return value if value.is_a?(Integer)
        match = /\A\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*\z/i.match(value.to_s)
        raise ArgumentError, "Unparseable filesize: #{value}. possible units (KiB, MiB, ...) e.g. '10 KiB'" unless match
        (match[1].to_f * UNITS[match[2] && match[2].downcase]).to_i
      end

      def coerce_codec(value)
        return value if value.respond_to?(:multi_encode)
        klass = LogStash::Codecs.lookup(value.to_s)
        raise ArgumentError, "Couldn't find any codec plugin named '#{value}'" unless klass
        klass.new
      end

      def copy_default(value)
        value.is_a?(Array) || value.is_a?(Hash) || value.is_a?(String) ? value.dup : value
      end
    end
  end
end
