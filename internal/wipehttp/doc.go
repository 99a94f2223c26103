// Package wipehttp keeps what passes through net/http out of memory once
// it is used: net/http recycles its connection buffers, its response
// buffer and its header strings without clearing them, and a core dump of
// a server or agent would find there the last request's token and body
// and the last answer's secret. It is the layer below the handlers of
// both; what the handlers free is overwritten by the collector
// (secmem.ClobberFreed).
package wipehttp
