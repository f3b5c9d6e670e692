namespace Grid.Training.Experiments;

/// <summary>
/// Mean and sample standard deviation (n - 1 in the denominator) of one cell's values over seeds. With one value the
/// spread is unknown: <see cref="Sd"/> is 0 and <see cref="SpreadKnown"/> is false, and tables say "n=1".
/// </summary>
public sealed record SampleSummary(double Mean, double Sd, int N)
{
    public bool SpreadKnown => N > 1;

    public static SampleSummary Of(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("A summary needs at least one value.", nameof(values));
        }

        if (values.Any(v => !double.IsFinite(v)))
        {
            throw new ArgumentException($"Values must be finite numbers: {string.Join(", ", values)}.", nameof(values));
        }

        double mean = values.Average();
        double sd = values.Count > 1
            ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1))
            : 0.0;
        return new SampleSummary(mean, sd, values.Count);
    }
}
