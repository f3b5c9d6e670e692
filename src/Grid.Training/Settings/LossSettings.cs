using Grid.Learning.Advantages;
using Grid.Learning.Objective;

namespace Grid.Training.Settings;

/// <summary>Maps run settings onto the objective's and the advantages' own settings.</summary>
public static class LossSettings
{
    public static GrpoLossSettings From(RunSettings s) => new GrpoLossSettings
    {
        EpsLow = s.EpsLow,
        EpsHigh = s.EpsHigh,
        LossType = GrpoLossSettings.ParseLossType(s.LossType),
        MaxCompletionLength = s.MaxNewTokens,
    }.Validate();

    public static AdvantageScale AdvantageScaleOf(RunSettings s) => AdvantageSettings.ParseScale(s.AdvantageScale);
}
