using Grid.Learning.Objective;

namespace Grid.Training.Settings;

/// <summary>Maps run settings onto the objective's own settings.</summary>
public static class LossSettings
{
    public static GrpoLossSettings From(RunSettings s) => new GrpoLossSettings
    {
        EpsLow = s.EpsLow,
        EpsHigh = s.EpsHigh,
        LossType = s.LossType,
        MaxCompletionLength = s.MaxNewTokens,
        MaxImportanceWeight = s.MaxImportanceWeight,
        ImportanceWeightCap = s.ImportanceWeightCap,
    }.Validate();
}
