using System.Globalization;

namespace Grid.Hosting.Placement;

/// <summary>
/// The one place that defines the string key of learner grains, which <see cref="LearnerPlacementAttribute"/> reads:
/// <code>
///   runId[/shard][|cpu-ok]
/// </code>
/// <list type="bullet">
/// <item><c>runId</c>: the run (ASCII letters, digits, '.', '_', '-'); <c>shard</c>: optional non-negative integer.</item>
/// <item><c>|cpu-ok</c>: the run allows a CPU learner, so silos declaring <c>grid.cpu-learner=true</c> are eligible
/// besides GPU silos. Without it only silos declaring <c>grid.gpu</c> are eligible.</item>
/// </list>
/// Examples: <c>run-42</c>, <c>run-42/1</c>, <c>run-42|cpu-ok</c>, <c>run-42/1|cpu-ok</c>. Build keys with
/// <see cref="Create"/>, never by hand, so the suffix is always spelled the same.
/// </summary>
public readonly record struct LearnerKey(string RunId, int? Shard, bool AllowsCpu)
{
    /// <summary>Suffix marking a run whose learner may train on a CPU silo.</summary>
    public const string CpuOkSuffix = "|cpu-ok";

    /// <summary>Builds the grain key for a run's learner (and shard).</summary>
    public static string Create(string runId, bool allowCpu = false, int? shard = null)
    {
        ValidateRunId(runId);
        if (shard is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(shard), shard, "A learner shard is 0 or more.");
        }

        string key = shard is { } s ? runId + "/" + s.ToString(CultureInfo.InvariantCulture) : runId;
        return allowCpu ? key + CpuOkSuffix : key;
    }

    /// <summary>True when a learner key says the run accepts a CPU learner.</summary>
    public static bool AllowsCpuLearner(string key) => key.EndsWith(CpuOkSuffix, StringComparison.Ordinal);

    /// <summary>Reads a key built by <see cref="Create"/>.</summary>
    public static LearnerKey Parse(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        bool allowsCpu = AllowsCpuLearner(key);
        string rest = allowsCpu ? key[..^CpuOkSuffix.Length] : key;
        int? shard = null;
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (!int.TryParse(rest[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int s))
            {
                throw new FormatException(
                    $"Learner key '{key}' has shard '{rest[(slash + 1)..]}'; expected runId[/shard][|cpu-ok] "
                    + "with a non-negative integer shard. Build keys with LearnerKey.Create.");
            }

            shard = s;
            rest = rest[..slash];
        }

        ValidateRunId(rest);
        return new LearnerKey(rest, shard, allowsCpu);
    }

    /// <summary>The key this value stands for.</summary>
    public override string ToString() => Create(RunId, AllowsCpu, Shard);

    internal static void ValidateRunId(string runId)
    {
        if (string.IsNullOrEmpty(runId) || runId.Length > 128
            || runId.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-')))
        {
            throw new ArgumentException(
                $"Run id '{runId}' is not valid; use 1-128 ASCII letters, digits, '.', '_' or '-' "
                + "(it names grains, blobs and folders).", nameof(runId));
        }
    }
}
