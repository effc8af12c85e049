package engine

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"quicklook/internal/manifest"
	"quicklook/internal/naming"
	"quicklook/internal/parallel"
	"quicklook/internal/storage"
)

// twinKey groups items whose thumbnails are bound to be identical: the same
// bytes (size and a content ETag), nothing beside them that GDAL would read
// too, and the same thumbnails to make. Other items have none.
func twinKey(it *item) string {
	if !storage.ContentETag(it.obj.ETag) || len(it.siblings) > 0 || it.obj.Size == 0 {
		return ""
	}
	names := make([]string, len(it.todo))
	for i, p := range it.todo {
		names[i] = p.Name
	}
	return fmt.Sprintf("%d|%s|%s", it.obj.Size, strings.Trim(it.obj.ETag, `"`), strings.Join(names, ","))
}

// splitTwins keeps the first item of each group of twins to render, and
// returns the others with the item each one copies.
func splitTwins(todo []*item) (render []*item, copies map[*item]*item) {
	first := map[string]*item{}
	copies = map[*item]*item{}
	for _, it := range todo {
		k := twinKey(it)
		if k == "" {
			render = append(render, it)
			continue
		}
		if leader, ok := first[k]; ok {
			copies[it] = leader
			continue
		}
		first[k] = it
		render = append(render, it)
	}
	return render, copies
}

// copyTwins gives each twin its rendered twin's thumbnails by copying them
// in the destination (CopyObject on S3: no render, no bytes moved), each
// copy carrying its own source's key and ETag. A twin whose original failed
// fails the same way; one not reached before a stop is interrupted.
func (c *Config) copyTwins(stop context.Context, copies map[*item]*item, rendered map[string]manifest.Record) []manifest.Record {
	twins := make([]*item, 0, len(copies))
	for it := range copies {
		twins = append(twins, it)
	}
	sort.Slice(twins, func(i, j int) bool { return twins[i].obj.Key < twins[j].obj.Key })
	out := make([]manifest.Record, len(twins))
	parallel.Each(len(twins), c.Concurrency, func(i int) {
		out[i] = c.copyTwin(stop, twins[i], rendered[copies[twins[i]].obj.Key])
	})
	return out
}

func (c *Config) copyTwin(stop context.Context, it *item, orig manifest.Record) (rec manifest.Record) {
	t0 := time.Now()
	rec = it.record("")
	rec.CopiedFrom = orig.Key
	defer func() {
		rec.Millis = time.Since(t0).Milliseconds()
		it.tally(&rec)
	}()
	switch {
	case orig.Status == manifest.Failed:
		rec.Status, rec.ErrorClass, rec.Settings = manifest.Failed, orig.ErrorClass, orig.Settings
		rec.Error = fmt.Sprintf("the same content as %s, which failed: %s", orig.Key, orig.Error)
		return rec
	case stop.Err() != nil:
		rec.Status, rec.ErrorClass, rec.Error = manifest.Failed, ClassInterrupted, "the run was stopped before this item's thumbnails were copied"
		return rec
	}
	// A copy once started is let finish (it is one request), as an
	// in-flight render is: cut off, it may still land, unrecorded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(stop), c.DrainTimeout)
	defer cancel()
	ctx = storage.WithUsage(ctx, it.usage)
	outputs := map[string]manifest.Output{}
	for _, o := range orig.Outputs {
		outputs[o.Key] = o
	}
	rec.Level, rec.Layout, rec.ReadPlan, rec.Rules = orig.Level, orig.Layout, orig.ReadPlan, orig.Rules
	rec.Outputs = append(rec.Outputs, it.kept...)
	for _, p := range it.todo {
		from, key := naming.OutputKey("", orig.Key, p), naming.OutputKey("", it.obj.Key, p)
		o, ok := outputs[from]
		if !ok {
			rec.Status, rec.ErrorClass, rec.Error = manifest.Failed, ClassIO, fmt.Sprintf("%s has no %s thumbnail to copy", orig.Key, p.Name)
			return rec
		}
		err := c.Dest.Copy(ctx, from, key, storage.PutOptions{
			ContentType:  p.Format.ContentType(),
			CacheControl: c.CacheControl,
			Metadata: map[string]string{MetaSourceETag: it.obj.ETag, MetaSourceKey: it.obj.Key, MetaSettings: o.Settings,
				MetaRules: strconv.Itoa(orig.Rules)},
		})
		if err != nil {
			rec.Status, rec.ErrorClass, rec.Error = manifest.Failed, ClassIO, err.Error()
			return rec
		}
		o.Key = key
		rec.Outputs = append(rec.Outputs, o)
	}
	sort.Slice(rec.Outputs, func(i, j int) bool { return rec.Outputs[i].Key < rec.Outputs[j].Key })
	rec.Status = manifest.Created
	if it.existing {
		rec.Status = manifest.Updated
	}
	c.Log.Debug("copied", "key", it.obj.Key, "from", orig.Key)
	return rec
}
