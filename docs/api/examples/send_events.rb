# Send events to mbuzz from Ruby (standard library only).
#   MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... ruby send_events.rb
require "json"
require "net/http"
require "securerandom"
require "uri"

api = ENV.fetch("MBUZZ_API_URL", "http://127.0.0.1:8000")
key = ENV.fetch("MBUZZ_API_KEY")

events = [
  {
    event_type: "page_view",
    visitor_id: "vis_ruby_example",
    event_id: SecureRandom.uuid,
    properties: {
      url: "https://shop.example.com/?utm_source=bing&utm_medium=cpc&msclkid=abc",
      utm_source: "bing", utm_medium: "cpc", msclkid: "abc"
    }
  }
]

uri = URI("#{api}/api/v1/events")
5.times do |attempt|
  request = Net::HTTP::Post.new(uri, "Authorization" => "Bearer #{key}", "Content-Type" => "application/json")
  request.body = JSON.generate(events: events)
  response = Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == "https") { |http| http.request(request) }
  if response.code == "202"
    puts response.body
    break
  end
  raise "#{response.code}: #{response.body}" unless %w[429 503].include?(response.code) && attempt < 4
  sleep Integer(response["Retry-After"] || "1")
end
