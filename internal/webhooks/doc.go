// Package webhooks delivers a tenant's events to the HTTPS endpoints the
// tenant registered, signed per Standard Webhooks, at least once.
//
// An event commits with the change that caused it (internal/events); in
// that same transaction Fanout writes the message and one delivery per
// subscribed endpoint, and queues one River job per delivery. The job
// posts the message to the endpoint from whichever node picks it up; a
// node dying mid-delivery leaves the job to be rescued by another. 2xx is
// delivered; 410 disables the endpoint; anything else, or no answer within
// 15 s, is retried with exponential backoff and jitter for about three
// days. An endpoint that has failed for five days is disabled and the
// tenant's owners are mailed. Every attempt is logged (Attempts), and a
// tenant can send a test event or redeliver messages.
//
// Endpoint URLs must be https and public: private, loopback, link-local,
// CGNAT and other internal addresses are refused at save (after DNS
// resolution) and again when connecting (the dialer checks the address it
// actually dials, so DNS rebinding cannot reach them), unless the platform
// allows private networks (HALLPASS_WEBHOOK_ALLOW_PRIVATE_NETWORKS=1).
package webhooks
