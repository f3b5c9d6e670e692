using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Grid.Telemetry;

namespace Grid.Grains.Tests.Failures;

/// <summary>
/// Listens to the <c>Grid</c> meters of every silo in this process and sums one run's integer measurements per
/// instrument (and <c>outcome</c> label), to compare the metrics the grains record with what happened.
/// </summary>
public sealed class GridMetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _totals = new();

    public GridMetricsRecorder(string runId)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == GridMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? run = null, outcome = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "run")
                {
                    run = tag.Value as string;
                }
                else if (tag.Key == "outcome")
                {
                    outcome = tag.Value as string;
                }
            }

            if (run == runId)
            {
                _totals.AddOrUpdate(Key(instrument.Name, outcome), value, (_, total) => total + value);
            }
        });
        _listener.Start();
    }

    /// <summary>The sum of <paramref name="instrument"/>'s measurements for the run, optionally of one outcome.</summary>
    public long Total(string instrument, string? outcome = null) =>
        _totals.TryGetValue(Key(instrument, outcome), out long total) ? total : 0;

    public void Dispose() => _listener.Dispose();

    public override string ToString() => string.Join(", ", _totals.OrderBy(t => t.Key).Select(t => $"{t.Key}={t.Value}"));

    private static string Key(string instrument, string? outcome) => outcome is null ? instrument : $"{instrument}{{{outcome}}}";
}
