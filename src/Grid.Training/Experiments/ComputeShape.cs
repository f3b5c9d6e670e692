using Grid.Training.Settings;

namespace Grid.Training.Experiments;

/// <summary>What decides an RL run's compute: steps x prompts per step x group size completions of up to max tokens.</summary>
public sealed record ComputeShape(int Steps, int PromptsPerStep, int GroupSize, int MaxNewTokens)
{
    public static ComputeShape Of(RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new ComputeShape(settings.Steps, settings.PromptsPerStep, settings.GroupSize, settings.MaxNewTokens);
    }
}
