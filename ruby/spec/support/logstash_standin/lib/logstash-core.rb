# encoding: utf-8
# Loads the whole stand-in.
require "logstash/namespace"
require "logstash/outputs/base"
