using System.Collections.Concurrent;
using System.Text.Json;
using Grid.Policy.Model;
using Grid.Training.Settings;

namespace Grid.Grains.Mapping;

/// <summary>
/// Run settings and policy shapes travel between grains as JSON; this reads and validates them. Every prompt group of
/// a run carries the same JSON, so each distinct text is parsed and validated once per process and the (immutable)
/// result shared: parsing it per group showed up on the control-plane benchmark.
/// </summary>
public static class RunSettingsJson
{
    /// <summary>Distinct texts kept; a process rarely sees more than a few runs at once, and clearing is only a re-parse.</summary>
    private const int MaxCached = 64;
    private static readonly ConcurrentDictionary<string, RunSettings> Settings = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, PolicyConfig> PolicyConfigs = new(StringComparer.Ordinal);

    /// <summary>Reads settings written by <see cref="RunSettingsLoader.ToJson"/> and validates them once.</summary>
    public static RunSettings Read(string json)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(json);
        return Cached(Settings, json, static text =>
        {
            var settings = JsonSerializer.Deserialize<RunSettings>(text, RunSettingsLoader.JsonOptions)
                ?? throw new ArgumentException("The run settings JSON is 'null'; pass RunSettingsLoader.ToJson(settings).", nameof(json));
            RunSettingsValidator.Validate(settings);
            return settings;
        });
    }

    public static string Write(PolicyConfig config) => JsonSerializer.Serialize(config);

    public static PolicyConfig ReadPolicyConfig(string json)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(json);
        return Cached(PolicyConfigs, json, static text => (JsonSerializer.Deserialize<PolicyConfig>(text)
            ?? throw new ArgumentException("The policy config JSON is 'null'.", nameof(json))).Validate());
    }

    private static T Cached<T>(ConcurrentDictionary<string, T> cache, string json, Func<string, T> read)
    {
        if (cache.TryGetValue(json, out var known))
        {
            return known;
        }

        var value = read(json); // throws for bad input, which is then not cached
        if (cache.Count >= MaxCached)
        {
            cache.Clear();
        }

        cache[json] = value;
        return value;
    }
}
