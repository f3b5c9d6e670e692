using Grid.Core;
using Grid.Training.Evaluation;

namespace Grid.Training;

/// <summary>What a finished run produced: where it lives, the evaluations before and after GRPO-D, and counts.</summary>
public sealed record TrainingResult(
    string RunFolder,
    EvalReport AfterSft,
    EvalReport Final,
    long StepsCompleted,
    long UpdatesSkipped,
    double SecondsSft,
    double SecondsGrpo,
    double SecondsTotal,
    string FinalCheckpoint,
    long PeakRssBytes);
