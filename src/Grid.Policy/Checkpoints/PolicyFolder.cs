using System.Text.Json;
using Grid.Policy.Qwen;

namespace Grid.Policy.Checkpoints;

/// <summary>Which kind of policy a checkpoint folder holds: Grid's own (checkpoint.json) or a Hugging Face hub folder.</summary>
public static class PolicyFolder
{
    /// <summary>
    /// True for a hub-layout folder: its config.json names a model_type (Grid's own config.json holds the small model's
    /// shape and none). The model_type is checked when the folder is loaded (<see cref="QwenVLConfig"/> names the
    /// supported ones). A Grid run's checkpoints of such a policy are hub folders too, with a checkpoint.json beside.
    /// </summary>
    public static bool IsHuggingFace(string folder)
    {
        string config = Path.Combine(folder, HuggingFaceCheckpoint.ConfigFileName);
        if (!File.Exists(config) || new FileInfo(config).Length > PolicyCheckpoint.MaxJsonBytes)
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(config));
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("model_type", out _);
        }
        catch (JsonException)
        {
            return false; // left to the loader, which names what is wrong with the file
        }
    }
}
