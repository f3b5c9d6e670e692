using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Grid.Core.Settings;
using Orleans.Serialization.Cloning;

namespace Grid.Contracts;

/// <summary>
/// How grain calls and grain state carry <see cref="RunSettings"/>, which lives in Grid.Core, free of Orleans: as the
/// settings' JSON (doubles round-trip exactly), through a converter Orleans finds in this assembly like the contracts'
/// own codecs, so every silo and client that knows the contracts can send settings with no registration of its own.
/// </summary>
[GenerateSerializer]
[Alias("grid.RunSettings")]
[Immutable]
public readonly record struct RunSettingsSurrogate([property: Id(0)] string Json);

[RegisterConverter]
public sealed class RunSettingsConverter : IConverter<RunSettings, RunSettingsSurrogate>
{
    /// <summary>Distinct texts kept: a process sees few runs at once, and clearing costs only a parse.</summary>
    private const int MaxCached = 64;

    private static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    // Every prompt group of a run carries the same settings: each instance is written, and each text read, once.
    private static readonly ConditionalWeakTable<RunSettings, string> Written = new();
    private static readonly ConcurrentDictionary<string, RunSettings> Read = new(StringComparer.Ordinal);

    public RunSettings ConvertFromSurrogate(in RunSettingsSurrogate surrogate)
    {
        if (Read.TryGetValue(surrogate.Json, out var known))
        {
            return known;
        }

        var settings = JsonSerializer.Deserialize<RunSettings>(surrogate.Json, Options)
            ?? throw new InvalidDataException("A grain call carried the run settings as JSON 'null'.");
        if (Read.Count >= MaxCached)
        {
            Read.Clear();
        }

        Read[surrogate.Json] = settings;
        return settings;
    }

    public RunSettingsSurrogate ConvertToSurrogate(in RunSettings value) =>
        new(Written.GetValue(value, static settings => JsonSerializer.Serialize(settings, Options)));
}

/// <summary>The settings records are immutable: a call inside a silo hands over the same instance.</summary>
[RegisterCopier]
public sealed class RunSettingsCopier : ShallowCopier<RunSettings>;
