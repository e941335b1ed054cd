-- This migration was emptied on purpose.
/* Nothing to do here;
   the table was dropped in V12. */
-- ;
