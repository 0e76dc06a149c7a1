// Package render turns an LIR plan (plan.Node) into dataflow operators in a
// dataflow.Graph.
//
// Rendering is a walk of the plan: each node becomes the operator that
// implements it, reading the collections its children rendered to. Reads of
// catalog collections and of existing arrangements go through Imports, which
// the coordinator implements by importing shared traces, so one arrangement
// serves every dataflow that reads it. A global Get whose MFP fixes the
// leading columns of one of its arrangements' keys to literals
// (plan.LGet.LiteralPrefix) is read through Imports.IndexRead: only those
// entries of the arrangement, never the whole collection. Imports for a
// dataflow whose first step may lie in the past (a SUBSCRIBE AS OF) refuse
// both arrangement imports and index reads, which carry no history from
// before their creation.
//
// # Joins
//
// LIR describes join stages over the "stream" (the columns joined so far,
// in path order, each input contributing its output columns after the MFP
// of its LGet). The runtime's operators work on raw arranged rows: a linear
// join lifts the looked-up input's MFP into the stage's residual, and its
// last stage applies the plan's final MFP to each match, so the joined rows
// are never materialised before their filter; a delta
// join concatenates raw rows in input order, so render rewrites every
// stream key into an expression over raw columns (inlining MFP
// expressions) and gathers every path's filters into one final MFP over
// the raw layout. Both give the same collection as the LIR describes.
package render
