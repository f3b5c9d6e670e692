using System.Collections.Concurrent;
using System.Text.Json;
using Grid.Contracts.Runs;
using Grid.Policy.Model;
using Grid.Training.Settings;

namespace Grid.Grains.Mapping;

/// <summary>
/// The JSON that still travels between grains: the policy's shape (every prompt group of a run carries the same text,
/// so each distinct text is parsed and validated once per process and the immutable result shared), and the settings
/// JSON of run specs stored before the settings travelled as the <see cref="RunSettings"/> record.
/// </summary>
public static class RunSettingsJson
{
    /// <summary>Distinct texts kept; a process rarely sees more than a few runs at once, and clearing is only a re-parse.</summary>
    private const int MaxCached = 64;
    private static readonly ConcurrentDictionary<string, PolicyConfig> PolicyConfigs = new(StringComparer.Ordinal);

    /// <summary>
    /// <paramref name="spec"/> with its <see cref="RunSpec.Settings"/>: itself when it has them, else (a spec stored by an
    /// older version) read from its legacy <see cref="RunSpec.SettingsJson"/>, written by <see cref="RunSettingsLoader.ToJson"/>.
    /// Not validated here; the caller validates.
    /// </summary>
    public static RunSpec Upgrade(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Settings is not null)
        {
            return spec;
        }

        if (string.IsNullOrWhiteSpace(spec.SettingsJson))
        {
            throw new ArgumentException("The run spec has no settings; pass the run's RunSettings.", nameof(spec));
        }

        var settings = JsonSerializer.Deserialize<RunSettings>(spec.SettingsJson, RunSettingsLoader.JsonOptions)
            ?? throw new ArgumentException("The run spec's settings JSON is 'null'.", nameof(spec));
        return new RunSpec(settings, spec.AllowCpuLearner);
    }

    public static string Write(PolicyConfig config) => JsonSerializer.Serialize(config);

    public static PolicyConfig ReadPolicyConfig(string json)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(json);
        if (PolicyConfigs.TryGetValue(json, out var known))
        {
            return known;
        }

        var value = (JsonSerializer.Deserialize<PolicyConfig>(json)
            ?? throw new ArgumentException("The policy config JSON is 'null'.", nameof(json))).Validate(); // not cached when bad
        if (PolicyConfigs.Count >= MaxCached)
        {
            PolicyConfigs.Clear();
        }

        PolicyConfigs[json] = value;
        return value;
    }
}
