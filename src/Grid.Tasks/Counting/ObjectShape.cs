namespace Grid.Tasks.Counting;

public enum ObjectShape
{
    Circle,
    Square,
    Triangle,
}
