"""Pure eval scoring, thresholds and the paired comparison with the champion."""
