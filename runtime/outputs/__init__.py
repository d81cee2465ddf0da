"""Alert outputs: each publishes one alert document to a destination."""
