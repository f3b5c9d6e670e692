using System.Text.Json;
using Grid.Policy.Model;
using Grid.Training.Settings;

namespace Grid.Grains.Mapping;

/// <summary>Run settings and policy shapes travel between grains as JSON; this reads and validates them.</summary>
public static class RunSettingsJson
{
    /// <summary>Reads settings written by <see cref="RunSettingsLoader.ToJson"/> and validates them once.</summary>
    public static RunSettings Read(string json)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(json);
        var settings = JsonSerializer.Deserialize<RunSettings>(json, RunSettingsLoader.JsonOptions)
            ?? throw new ArgumentException("The run settings JSON is 'null'; pass RunSettingsLoader.ToJson(settings).", nameof(json));
        RunSettingsValidator.Validate(settings);
        return settings;
    }

    public static string Write(PolicyConfig config) => JsonSerializer.Serialize(config);

    public static PolicyConfig ReadPolicyConfig(string json) =>
        (JsonSerializer.Deserialize<PolicyConfig>(json)
         ?? throw new ArgumentException("The policy config JSON is 'null'.", nameof(json))).Validate();
}
