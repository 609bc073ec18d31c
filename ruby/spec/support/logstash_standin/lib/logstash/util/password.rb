# encoding: utf-8
require "logstash/namespace"

module LogStash
  module Util
    # Wraps a :password option so that printing it never shows the secret.
    class Password
      attr_reader :value

      def initialize(value)
        @value = value
      end

      def to_s
        "<password>"
      end

      def inspect
        to_s
      end
    end
  end
end
