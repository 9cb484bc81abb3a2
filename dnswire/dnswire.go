// Package dnswire parses and writes DNS messages in wire format without
// allocating. It depends only on the standard library.
package dnswire
