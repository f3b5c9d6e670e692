using System.Text.Json.Nodes;
using Grid.Training.Settings;

namespace Grid.Training.Experiments;

/// <summary>The settings of a study that differ from the defaults, as "key: default -> value" with dotted snake_case keys.</summary>
public static class SettingsDifference
{
    public static IReadOnlyList<string> From(RunSettings defaults, RunSettings actual)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        ArgumentNullException.ThrowIfNull(actual);
        var before = Flatten(JsonNode.Parse(RunSettingsLoader.ToJson(defaults))!.AsObject(), "");
        var after = Flatten(JsonNode.Parse(RunSettingsLoader.ToJson(actual))!.AsObject(), "");
        return after
            .Where(p => !before.TryGetValue(p.Key, out string? old) || old != p.Value)
            .Select(p => $"{p.Key}: {(before.TryGetValue(p.Key, out string? old) ? old : "(none)")} -> {p.Value}")
            .ToArray();
    }

    private static Dictionary<string, string> Flatten(JsonObject node, string prefix)
    {
        var values = new Dictionary<string, string>();
        foreach (var (key, value) in node)
        {
            string name = prefix + key;
            if (value is JsonObject child)
            {
                foreach (var pair in Flatten(child, name + "."))
                {
                    values[pair.Key] = pair.Value;
                }
            }
            else
            {
                values[name] = value?.ToJsonString() ?? "null";
            }
        }

        return values;
    }
}
