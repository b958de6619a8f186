package pipeline

import (
	"context"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

// Build adds the review to the pipeline of scope s. The launcher must have
// created job.Out; the outputs appear there when the pipeline has run.
func Build(s beam.Scope, job Job) {
	s = s.Scope("hedui")
	chunks, listed := beam.ParDo2(s.Scope("list"), &listFn{Job: job}, beam.Impulse(s))
	// One listing element fans out to every row group: reshuffle so the
	// engine spreads the reads over its workers.
	chunks = beam.Reshuffle(s, chunks)

	rosterByKey, rosterByHousehold, byKey, byNameDOB, policeByHukou, readCounts :=
		beam.ParDo6(s.Scope("read"), &readFn{Job: job}, chunks)

	toHousehold, candidates, refsByNameDOB, refsByHukou, staffByKey, matchedCounts :=
		beam.ParDo6(s.Scope("person"), &personFn{Job: job}, beam.CoGroupByKey(s.Scope("by person"), rosterByKey, byKey))

	weak, weakCounts := beam.ParDo2(s.Scope("weak"), &weakFn{}, beam.CoGroupByKey(s.Scope("by name-dob"), refsByNameDOB, byNameDOB))

	hukou, staffRequests := beam.ParDo2(s.Scope("hukou"), &hukouFn{}, beam.CoGroupByKey(s.Scope("by hukou"), refsByHukou, policeByHukou))

	staff, staffCounts := beam.ParDo2(s.Scope("staff"), &staffFn{}, beam.CoGroupByKey(s.Scope("by housemate"), staffRequests, staffByKey))

	grouped := beam.CoGroupByKey(s.Scope("by household"), rosterByHousehold, toHousehold, weak, hukou, staff)
	householdFlags := beam.ParDo(s.Scope("household"), &householdFn{Job: job}, grouped)
	candidateFlags := beam.ParDo(s.Scope("candidate"), &candidateFn{Job: job}, candidates)

	flags := beam.Flatten(s, householdFlags, candidateFlags)
	beam.ParDo0(s.Scope("write flags"), &writeShardFn{Job: job}, beam.GroupByKey(s, flags))

	counts := beam.CombinePerKey(s.Scope("sum counts"), sumCounts, beam.Flatten(s, listed, readCounts, matchedCounts, weakCounts, staffCounts))
	beam.ParDo0(s.Scope("write quality"), &writeQualityFn{Job: job}, beam.GroupByKey(s, beam.ParDo(s, toSingleKey, counts)))
}

func init() {
	beam.RegisterType(reflect.TypeOf(EntryCounts{}))

	register.DoFn4x1[context.Context, []byte, func(ChunkRef), func(int, Counts), error](&listFn{})
	register.DoFn8x1[context.Context, ChunkRef, func(uint64, RosterRow), func(string, RosterRow),
		func(uint64, Row), func(uint64, Row), func(uint64, Row), func(int, Counts), error](&readFn{})
	register.DoFn9x1[uint64, func(*RosterRow) bool, func(*Row) bool, func(string, Person), func(Person),
		func(uint64, Ref), func(uint64, Ref), func(uint64, Staff), func(int, Counts), error](&personFn{})
	register.DoFn5x0[uint64, func(*Ref) bool, func(*Row) bool, func(string, Weak), func(int, Counts)](&weakFn{})
	register.DoFn5x1[uint64, func(*Ref) bool, func(*Row) bool, func(string, Hukou), func(uint64, string), error](&hukouFn{})
	register.DoFn5x0[uint64, func(*string) bool, func(*Staff) bool, func(string, Staff), func(int, Counts)](&staffFn{})
	register.DoFn7x1[string, func(*RosterRow) bool, func(*Person) bool, func(*Weak) bool, func(*Hukou) bool,
		func(*Staff) bool, func(int, FlagOut), error](&householdFn{})
	register.DoFn2x1[Person, func(int, FlagOut), error](&candidateFn{})
	register.DoFn2x1[int, func(*FlagOut) bool, error](&writeShardFn{})
	register.DoFn2x1[int, func(*EntryCounts) bool, error](&writeQualityFn{})
	register.Function2x1(sumCounts)
	register.Function2x2(toSingleKey)

	register.Emitter1[ChunkRef]()
	register.Emitter1[Person]()
	register.Emitter2[int, Counts]()
	register.Emitter2[uint64, RosterRow]()
	register.Emitter2[string, RosterRow]()
	register.Emitter2[uint64, Row]()
	register.Emitter2[string, Person]()
	register.Emitter2[uint64, Ref]()
	register.Emitter2[uint64, Staff]()
	register.Emitter2[string, Weak]()
	register.Emitter2[string, Hukou]()
	register.Emitter2[uint64, string]()
	register.Emitter2[string, Staff]()
	register.Emitter2[int, FlagOut]()
	register.Iter1[RosterRow]()
	register.Iter1[Row]()
	register.Iter1[Ref]()
	register.Iter1[string]()
	register.Iter1[Staff]()
	register.Iter1[Person]()
	register.Iter1[Weak]()
	register.Iter1[Hukou]()
	register.Iter1[FlagOut]()
	register.Iter1[EntryCounts]()
}
