// Package stream is the WebSocket price stream (function stream, api.md "WebSocket price
// stream"): an API Gateway WebSocket API whose connections live in MongoDB and are pushed to by
// the prices function after every refresh.
//
// # Messages
//
// Server to client: {"type":"initial_prices","data":[...],"timestamp"} right after connect,
// {"type":"price_update","data":[...],"timestamp"} after every refresh that changed a price, where
// data is GET /api/crypto's data[] (market.MarshalData) and timestamp the newest price's
// updated_at (RFC 3339). Client to server, each answered on the same connection:
// {"type":"ping"} -> {"type":"pong"}; {"type":"subscribe","symbols":["BTC"]} ->
// {"type":"subscribed","symbols":["BTC"]}, after which updates carry only those coins; anything
// else (invalid JSON, over MaxMessageBytes, an unknown type, a bad symbol) ->
// {"type":"error","error":"<message>"}. The stream is public market data: nothing is
// authenticated and no cookie or token is read.
//
// # Connections
//
// ws_connections holds one document per open connection: {_id: connectionId, connected_at,
// expires_at (connected_at + MaxConnectionAge, API Gateway's hard limit), endpoint (the API's
// management endpoint, https://{domainName}/{stage}), symbols (empty: every coin)}. $connect
// inserts it, $disconnect deletes it, a post answered 410 Gone deletes it (unless the connection
// is younger than ConnectGrace: API Gateway answers 410 until the handshake that follows
// $connect is complete), and a TTL index on
// expires_at removes what a lost $disconnect left behind (queries skip expired documents
// themselves, since the local engine has no TTL).
//
// # The three routes
//
// Route selection is $request.body.type, but only $connect, $disconnect and $default exist, so
// every client message reaches $default. The $default route has a route response, so the body
// the function returns is API Gateway's reply on the connection: ping and subscribe cost no
// management API call.
//
// initial_prices cannot be posted from $connect: API Gateway answers 410 Gone until $connect has
// returned. In AWS, $connect therefore hands the connection id to an asynchronous invocation of
// this same function ({"stream_task":"initial_prices","connection_id":"..."}, Lambda Invoke with
// InvocationType Event), which posts the message, retrying a 410 for up to InitialWait while the
// handshake completes. A post on the client's first $default would have needed the client to
// speak first, which the frontend does not. If the invocation cannot be made, $connect still
// accepts: the client gets the prices with the next price_update.
//
// # Broadcast
//
// Broadcaster.Broadcast (the prices function's after-refresh hook, AfterRefresh) reads the live
// connections with one cursor, posts to each through its endpoint's Poster with at most
// DefaultConcurrency posts in flight, deletes those answered Gone in batches afterwards (not
// those within ConnectGrace of their $connect), and gives up at DefaultBroadcastTimeout, well
// inside the prices function's timeout. The encoded message is built once per distinct
// subscription, not once per connection.
//
// Cost (BenchmarkBroadcast, 10,000 connections against wsfake on a 2-core machine): 0.6 s with
// no round trip, about 50 us of our CPU per connection (signing and HTTP; the rest of the
// measured 95 us is the fake and the embedded database); 3.6 s when every post takes 20 ms, as
// the management API does from Lambda in the same region (64 in flight: 10,000 / 64 x 20 ms =
// 3.1 s). On a 256 MB function (about 0.15 vCPU) that is roughly 4-6 s for 10,000 connections,
// and about 50,000 fit in DefaultBroadcastTimeout.
//
// # AWS and local
//
// In AWS a Poster is ManagementAPI: SigV4-signed PostToConnection calls on the bounded HTTP
// client. Locally, cmd/local serves ws://127.0.0.1:8001/ws/prices with the same Handler (it
// builds the same API Gateway events), registers its sockets as the Poster of its endpoint with
// RegisterLocalEndpoint, sends initial_prices itself right after the handshake, and the local
// price schedule broadcasts through the same hook.
package stream
