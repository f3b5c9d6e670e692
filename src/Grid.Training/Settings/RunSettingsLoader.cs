using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Grid.Learning.Settings;

namespace Grid.Training.Settings;

/// <summary>
/// Builds a <see cref="RunSettings"/> from a preset, then a JSON file, then <c>key=value</c> overrides (later wins),
/// and validates it once. Unknown keys, wrong types and out-of-range values are refused with the key, the
/// offending value and what would be right.
/// </summary>
public static class RunSettingsLoader
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    /// <summary>Named starting points: "demo" is the README's run; "smoke" is seconds long, for checks and tests.</summary>
    public static IReadOnlyDictionary<string, RunSettings> Presets { get; } = new Dictionary<string, RunSettings>
    {
        ["demo"] = new RunSettings(),
        ["smoke"] = new RunSettings
        {
            Name = "smoke",
            Steps = 3,
            PromptsPerStep = 4,
            GroupSize = 4,
            MaxNewTokens = 24,
            EvalPrompts = 8,
            EvalEvery = 0,
            ValidationPrompts = 8,
            CheckpointEvery = 2,
            Sft = new SftSettings { Steps = 4, BatchSize = 8, Demonstrations = 64 },
            Model = new ModelSettings { DModel = 32, Layers = 1, Heads = 2 },
        },
    };

    /// <param name="preset">Preset name, default "demo".</param>
    /// <param name="settingsPath">Optional JSON file with any subset of the settings.</param>
    /// <param name="overrides">"key=value" pairs, nested keys with dots: "kl.beta_max=0.2".</param>
    public static RunSettings Load(string? preset = null, string? settingsPath = null, IEnumerable<string>? overrides = null)
    {
        preset ??= "demo";
        if (!Presets.TryGetValue(preset, out var start))
        {
            throw new InvalidSettingException("preset", preset, InvalidSettingException.OneOf(Presets.Keys));
        }

        var node = JsonSerializer.SerializeToNode(start, JsonOptions)!.AsObject();
        if (settingsPath is not null)
        {
            Merge(node, ReadFile(settingsPath), settingsPath);
        }

        foreach (var assignment in overrides ?? [])
        {
            ApplyOverride(node, assignment);
        }

        RunSettings settings;
        try
        {
            settings = node.Deserialize<RunSettings>(JsonOptions)
                ?? throw new InvalidSettingException("settings", null, "a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidSettingException(SettingName(e.Path), null,
                $"a value of the right type ({e.Message.Split(". Path:")[0]})");
        }

        RunSettingsValidator.Validate(settings);
        return settings;
    }

    public static string ToJson(RunSettings settings) => JsonSerializer.Serialize(settings, JsonOptions);

    private static JsonObject ReadFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"Settings file '{Path.GetFullPath(path)}' does not exist. Pass an existing JSON file, or leave the option out to use the preset.",
                path);
        }

        try
        {
            return JsonNode.Parse(File.ReadAllText(path),
                documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                as JsonObject ?? throw new InvalidDataException($"Settings file '{path}' must hold one JSON object {{...}}.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
                $"Settings file '{path}' is not valid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", e);
        }
    }

    private static void Merge(JsonObject target, JsonObject source, string origin)
    {
        foreach (var (key, value) in source)
        {
            if (!target.ContainsKey(key))
            {
                throw new InvalidSettingException(key, value?.ToJsonString(),
                    $"a known setting (from {origin}); known here: {string.Join(", ", target.Select(p => p.Key))}");
            }

            if (value is JsonObject child && target[key] is JsonObject existing)
            {
                Merge(existing, child, origin);
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }

    private static void ApplyOverride(JsonObject root, string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0)
        {
            throw new InvalidSettingException("set", assignment, "key=value, e.g. steps=50 or kl.beta_max=0.2");
        }

        var path = assignment[..eq].Trim().Split('.');
        var text = assignment[(eq + 1)..].Trim();
        JsonObject parent = root;
        for (int i = 0; i < path.Length - 1; i++)
        {
            parent = parent[path[i]] as JsonObject
                ?? throw new InvalidSettingException(string.Join('.', path[..(i + 1)]), text, "a known group of settings");
        }

        JsonNode? value;
        try
        {
            value = JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            value = JsonValue.Create(text); // bare words are strings: task=geometry
        }

        Merge(parent, new JsonObject { [path[^1]] = value }, "--set");
    }

    private static string SettingName(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) ? "settings" : jsonPath.TrimStart('$', '.');
}
